// What Tandem puts in the kernel for one configuration: the policy-routing rules, each tunnel's table, and the
// routes of the remote prefixes. Pure: the daemon compares it with what the kernel holds (KernelSync).
//
// Userspace mode, for tunnel number i (file order):
//   rule  priority P      iif <tunnel device>  lookup T+1+i   what Tandem writes to the egress TUN ...
//   rule  priority P      oif <interface>      lookup T+1+i   (and the health probes bound to the interface) ...
//   table T+1+i: default dev <interface> [via <next hop>]     ... leave through the real tunnel device
//                <next hop> dev <interface>                   (the next hop is on the link)
//   rule  priority P+1                         lookup T       everything else meets Tandem's table first:
//   table T: <remote prefix> dev <ingress>                    the remote prefixes go into Tandem;
//            <inside /30 of BGP tunnel i> dev <interface>     a derived system route goes out of its own tunnel.
// The egress rules come first: a packet Tandem has forwarded must not meet table T again (it would loop).
// Kernel mode has no egress devices (so no iif rules), and its routes in T go through nexthop objects
// (Gateway+KernelMode.swift); the tunnel tables and oif rules are there for the probes. Kernel mode also makes each
// policy route set (same match and priority; set number j in GatewayConfig.policyRouteSets order) a rule:
//   rule  priority P+q  from SRC to DST [ipproto N] [dport A-B]  lookup T+1+tunnels+j    q: the policy's priority
//   table T+1+tunnels+j: default nhid <the set's group>   (Gateway+PolicySets.swift; no route while no connection
//                                                          of the set is up: the lookup falls through to the next rule)
//   rule  priority P+101                       lookup T       (after the policy band, instead of P+1)
// The probe rules come first, so that a policy never takes a tunnel's probes; then the policies, smaller priority
// first, as userspace mode evaluates them; then Tandem's table of destination routes.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

/// The rules, tunnel tables and remote routes of a configuration.
struct KernelPlan: Sendable {
    let config: GatewayConfig

    var marker: UInt8 { config.linux.protocol }
    var table: UInt32 { config.linux.table }

    var isKernelMode: Bool { config.gateway.mode == .kernel }

    /// Every table Tandem writes routes into.
    var tables: [UInt32] { [table] + tunnelTables + policyTables }

    /// The tunnel tables, one per tunnel.
    var tunnelTables: [UInt32] { config.tunnels.indices.map { config.linux.table(ofTunnel: $0) } }

    /// Kernel mode: the policy route sets, in the order of their tables.
    var policySets: [GatewayConfig.PolicyRouteSet] { isKernelMode ? config.policyRouteSets : [] }

    /// Kernel mode: the tables of the policy route sets, one per set (none in userspace mode).
    var policyTables: [UInt32] {
        policySets.indices.map { config.linux.table(ofPolicySet: $0, tunnels: config.tunnels.count) }
    }

    /// The rule priorities Tandem may use: the egress and probe rules, kernel mode's policy band, and the rule that
    /// looks its table up (at the band's end in kernel mode, right after the egress rules in userspace mode). All of
    /// them in either mode, so that a run in one mode takes a run's rules of the other mode for its own stale ones.
    var rulePriorities: [UInt32] { Array(config.linux.rulePriorities) }

    /// Whether a rule in the kernel is this gateway's: its protocol and one of its priorities, both together. A
    /// second instance in the namespace needs its own priorities (or protocol), and is refused at start otherwise
    /// (``Daemon`` takes a lock per priority and table), so this never takes another instance's rules for stale.
    func owns(_ rule: RoutingRule) -> Bool {
        rule.protocol == marker && config.linux.rulePriorities.contains(rule.priority)
    }

    /// The prefixes a configuration routes into Tandem: its destination routes, and the destinations of its policy
    /// routes except default routes (a default route in Tandem's table would pull in all traffic, the return
    /// traffic to the site included; ``defaultPolicyWarnings(of:)`` says so).
    static func configuredPrefixes(of config: GatewayConfig) -> Set<RoutePrefix> {
        var prefixes = Set(config.routes.map(\.prefix)).union(config.derivedSystemRoutes.map(\.prefix))
        for route in config.policyRoutes where !route.destination.isDefault { prefixes.insert(route.destination) }
        return prefixes
    }

    /// A warning per policy route whose destination is a default route.
    static func defaultPolicyWarnings(of config: GatewayConfig) -> [String] {
        config.policyRoutes.filter(\.destination.isDefault).map { route in
            "policy route \(route.match) (\(route.location)): its destination is a default route, which "
                + "Tandem does not put in the kernel; it applies to traffic to the remote prefixes only"
        }
    }

    /// The rules, both families.
    var rules: [RoutingRule] {
        var rules: [RoutingRule] = []
        for family in IPFamily.allCases {
            for (index, tunnel) in config.tunnels.enumerated() {
                let table = config.linux.table(ofTunnel: index)
                if config.gateway.mode == .userspace {
                    rules.append(
                        RoutingRule(
                            family: family, priority: config.linux.rulePriority, inputDevice: tunnel.device,
                            table: table, protocol: marker))
                }
                if let interface = tunnel.interface {
                    rules.append(
                        RoutingRule(
                            family: family, priority: config.linux.rulePriority, inputDevice: nil,
                            outputDevice: interface, table: table, protocol: marker))
                }
            }
            rules += policyRules(family: family)
            rules.append(
                RoutingRule(
                    family: family, priority: config.linux.tableRulePriority(kernelMode: isKernelMode),
                    inputDevice: nil, table: table, protocol: marker))
        }
        return rules
    }

    /// Kernel mode: each policy route set of `family` as a rule with its selectors, into the set's table. A default
    /// source is `from all` (the kernel reads a prefix of length 0 as none); check-config refuses a default
    /// destination in kernel mode.
    func policyRules(family: IPFamily) -> [RoutingRule] {
        zip(policySets, policyTables).compactMap { set, table in
            guard set.match.source.family == family else { return nil }
            return RoutingRule(
                family: family, priority: config.linux.rulePriority(ofPolicy: set.priority), inputDevice: nil,
                source: set.match.source.isDefault ? nil : set.match.source,
                destination: set.match.destination.isDefault ? nil : set.match.destination,
                ipProtocol: set.match.ipProtocol?.rawValue, destinationPorts: set.match.destinationPorts,
                table: table, protocol: marker)
        }
    }

    /// Kernel mode: the default route of a policy route set's table, through the set's nexthop group.
    func policyRoute(set index: Int, family: IPFamily, group: UInt32) -> KernelRoute {
        KernelRoute(
            prefix: family == .ipv4 ? Self.defaultRoutes.v4 : Self.defaultRoutes.v6, table: policyTables[index],
            protocol: marker, target: .nexthopObject(group))
    }

    static let defaultRoutes = (v4: try! RoutePrefix("0.0.0.0/0"), v6: try! RoutePrefix("::/0"))

    /// Each tunnel table's default routes out of the tunnel's interface.
    ///
    /// - Parameter interfaceIndex: The index of each `interface`.
    func tunnelRoutes(interfaceIndex: [String: UInt32]) -> [KernelRoute] {
        var routes: [KernelRoute] = []
        for (index, tunnel) in config.tunnels.enumerated() {
            guard let interface = tunnel.interface, let device = interfaceIndex[interface] else { continue }
            let table = config.linux.table(ofTunnel: index)
            let v4: KernelRoute.Target = tunnel.nextHopIPv4.map { .gateway(.v4($0), device: device) } ?? .device(device)
            let v6: KernelRoute.Target = tunnel.nextHopIPv6.map { .gateway(.v6($0), device: device) } ?? .device(device)
            routes.append(KernelRoute(prefix: Self.defaultRoutes.v4, table: table, protocol: marker, target: v4))
            routes.append(KernelRoute(prefix: Self.defaultRoutes.v6, table: table, protocol: marker, target: v6))
            // The next hop itself is on the link. Without this, a lookup of the next hop through the oif rule finds
            // the default route above, a route through a gateway, and the kernel refuses the next hop as a
            // gateway ("No route to host": it must be directly reachable).
            if let hop = tunnel.nextHopIPv4 {
                let host = RoutePrefix.v4(IPv4Prefix(normalizing: hop, length: 32))
                routes.append(KernelRoute(prefix: host, table: table, protocol: marker, target: .device(device)))
            }
            if let hop = tunnel.nextHopIPv6 {
                let host = RoutePrefix.v6(IPv6Prefix(normalizing: hop, length: 128))
                routes.append(KernelRoute(prefix: host, table: table, protocol: marker, target: .device(device)))
            }
        }
        return routes
    }

    /// A remote prefix's route in Tandem's table, to `target` (the ingress device, or a nexthop object).
    func remoteRoute(_ prefix: RoutePrefix, to target: KernelRoute.Target) -> KernelRoute {
        KernelRoute(prefix: prefix, table: table, protocol: marker, target: target)
    }

    /// What `tandem run` needs of a configuration beyond what `check-config` checks: each tunnel's real device.
    static func check(_ config: GatewayConfig, interfaceIndex: (String) -> UInt32?) -> [String] {
        var problems: [String] = []
        for tunnel in config.tunnels {
            guard let interface = tunnel.interface else {
                problems.append(
                    "tunnel '\(tunnel.name)' has no 'interface': tandem run needs the real tunnel device its "
                        + "traffic leaves through (VTI, WireGuard, GRE or veth); add 'interface: NAME' (\(tunnel.location))")
                continue
            }
            if interfaceIndex(interface) == nil {
                problems.append(
                    "tunnel '\(tunnel.name)': interface '\(interface)' does not exist in this network namespace; "
                        + "create it first, or fix the name (\(tunnel.location(of: "interface")))")
            }
        }
        return problems
    }
}
