// What Tandem puts in the kernel for one configuration: the policy-routing rules, each tunnel's table, and the
// routes of the remote prefixes. Pure: the daemon compares it with what the kernel holds (KernelSync).
//
// Userspace mode, for tunnel number i (file order):
//   rule  priority P      iif <tunnel device>  lookup T+1+i   what Tandem writes to the egress TUN ...
//   rule  priority P      oif <interface>      lookup T+1+i   (and the health probes bound to the interface) ...
//   table T+1+i: default dev <interface> [via <next hop>]     ... leave through the real tunnel device
//   rule  priority P+1                         lookup T       everything else meets Tandem's table first:
//   table T: <remote prefix> dev <ingress>                    the remote prefixes go into Tandem.
// The egress rules come first: a packet Tandem has forwarded must not meet table T again (it would loop).
// Kernel mode has no egress devices (so no iif rules), and its routes in T go through nexthop objects
// (Daemon+KernelMode.swift); the tunnel tables and oif rules are there for the probes.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

/// The rules, tunnel tables and remote routes of a configuration.
struct KernelPlan {
    let config: GatewayConfig

    var marker: UInt8 { config.linux.protocol }
    var table: UInt32 { config.linux.table }

    /// Every table Tandem writes routes into.
    var tables: [UInt32] { [table] + config.tunnels.indices.map { config.linux.table(ofTunnel: $0) } }

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
            rules.append(
                RoutingRule(
                    family: family, priority: config.linux.rulePriority + 1, inputDevice: nil, table: table,
                    protocol: marker))
        }
        return rules
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
            let v4: KernelRoute.Target = tunnel.nextHopIPv4.map { .gateway(.ipv4($0), device: device) } ?? .device(device)
            let v6: KernelRoute.Target = tunnel.nextHopIPv6.map { .gateway(.ipv6($0), device: device) } ?? .device(device)
            routes.append(KernelRoute(prefix: Self.defaultRoutes.v4, table: table, protocol: marker, target: v4))
            routes.append(KernelRoute(prefix: Self.defaultRoutes.v6, table: table, protocol: marker, target: v6))
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
