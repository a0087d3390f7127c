// What kernel mode makes of a configuration's policy routes, and what it needs of the running kernel. In kernel
// mode each policy route set (the policy routes with the same match and priority) is one FIB rule per family with
// the set's selectors, looking up a table of its own that holds a default route through the set's nexthop group.

#if canImport(Glibc)
import Glibc
#endif

/// What the running kernel offers that a kernel-mode configuration may need; read from /proc at check time, or
/// given by a test.
public struct KernelFeatures: Hashable, Sendable {
    /// `net.ipv4.fib_multipath_hash_seed` exists (Linux 6.11 on): `ecmp.seed` can be honoured.
    public var multipathHashSeed: Bool

    public init(multipathHashSeed: Bool) { self.multipathHashSeed = multipathHashSeed }

    /// The kernel this process runs on, in its network namespace.
    public static var running: KernelFeatures {
        KernelFeatures(multipathHashSeed: access("/proc/sys/net/ipv4/fib_multipath_hash_seed", F_OK) == 0)
    }
}

extension GatewayConfig {
    /// One policy route set: the policy routes with the same match and priority, an ECMP set over their connections.
    public struct PolicyRouteSet: Hashable, Sendable {
        public var match: PolicyRoute.Match
        public var priority: Int
        /// The policy routes of the set, in file order (one per connection: a later one of the same connection
        /// replaces an earlier one, as the router merges them).
        public var routes: [PolicyRoute]
    }

    /// The policy route sets in the router's order: by priority, then by where the set's first route is in the file.
    /// Kernel mode's rules and tables follow this order (set number `i` has table ``Linux/table(ofPolicySet:tunnels:)``).
    public var policyRouteSets: [PolicyRouteSet] {
        var sets: [PolicyRouteSet] = []
        var index: [PolicyKey: Int] = [:]
        for route in policyRoutes {
            let key = PolicyKey(match: route.match, priority: route.priority)
            if let at = index[key] {
                sets[at].routes.removeAll { $0.connection == route.connection }
                sets[at].routes.append(route)
            } else {
                index[key] = sets.count
                sets.append(PolicyRouteSet(match: route.match, priority: route.priority, routes: [route]))
            }
        }
        return sets.enumerated().sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }
            .map(\.element)
    }

    /// The number of policy route sets (kernel mode: one table each).
    public var policyRouteSetCount: Int {
        Set(policyRoutes.map { PolicyKey(match: $0.match, priority: $0.priority) }).count
    }

    private struct PolicyKey: Hashable {
        var match: PolicyRoute.Match
        var priority: Int
    }
}

extension GatewayConfig.Linux {
    /// Kernel mode: the table of policy route set number `index` (``GatewayConfig/policyRouteSets`` order), after
    /// the tunnel tables.
    public func table(ofPolicySet index: Int, tunnels: Int) -> UInt32 { table + 1 + UInt32(tunnels) + UInt32(index) }

    /// Kernel mode: the rule priority of a policy route set of `priority` (1...100): between the probe rules
    /// (`rulePriority`) and the rule of Tandem's table (``tableRulePriority(kernelMode:)``).
    public func rulePriority(ofPolicy priority: Int) -> UInt32 { rulePriority + UInt32(priority) }

    /// The priority of the rule that looks Tandem's table up: the next after the egress rules in userspace mode;
    /// in kernel mode after the policy rules' band (`rulePriority` + 1 ... + 100), at `rulePriority` + 101.
    public func tableRulePriority(kernelMode: Bool) -> UInt32 { rulePriority + (kernelMode ? 101 : 1) }

    /// Every rule priority this configuration may use, kernel mode's policy band included (in either mode, so that
    /// a gateway recognises its rules of a run in the other mode as its own stale ones).
    public var rulePriorities: ClosedRange<UInt32> { rulePriority...(rulePriority + 101) }
}
