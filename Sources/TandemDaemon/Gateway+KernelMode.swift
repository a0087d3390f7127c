// Kernel mode: the kernel forwards, through Tandem's nexthop objects. Each tunnel is a nexthop per family (out of
// its interface, via its next hop); each route chain of the RIB (the prefixes that share their candidate routes)
// is a nexthop group per family whose members are the selected tunnels of the connections that carry the chain
// now, with their weights; a chain with ECMP configured is a resilient group. Routes point at their chain's group
// (`nhid`), so a failover replaces the few groups concerned, one RTM_NEWNEXTHOP each, whatever the table size.

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

/// The nexthop objects kernel mode has in the kernel.
struct KernelModeState {
    /// Tandem's nexthop ids: tunnels from here, two per tunnel (IPv4, IPv6) ...
    static let tunnelBase: UInt32 = 0x5444_0000
    /// ... and chain groups from here, two per chain. Chains number at most 2^20: the ids stay below 0x5470_0000 ...
    static let chainBase: UInt32 = 0x5450_0000
    /// ... and policy route set groups from here, two per set (the set's family is used).
    static let policyBase: UInt32 = 0x5470_0000

    /// The members of each chain group in the kernel, by nexthop id.
    var groups: [UInt32: [NexthopObject.GroupMember]] = [:]
    /// The members of each policy route set's group in the kernel, by nexthop id ...
    var policyGroups: [UInt32: [NexthopObject.GroupMember]] = [:]
    /// ... and the sets whose table holds its default route through that group now (by set number).
    var policyRoutes: Set<Int> = []
    /// The tunnel nexthops in the kernel (the kernel deletes those of a device that loses its carrier).
    var tunnels: Set<UInt32> = []
    /// When a tunnel nexthop could not be restored (its device is not ready again yet): retry at this instant.
    var retryAt: UInt64?

    static func tunnelID(_ tunnel: TunnelID, _ family: IPFamily) -> UInt32 {
        tunnelBase + 2 * tunnel.rawValue + (family == .ipv4 ? 0 : 1)
    }

    static func groupID(_ chain: ChainID, _ family: IPFamily) -> UInt32 {
        chainBase + 2 * chain.rawValue + (family == .ipv4 ? 0 : 1)
    }

    static func policyGroupID(set index: Int, _ family: IPFamily) -> UInt32 {
        policyBase + 2 * UInt32(index) + (family == .ipv4 ? 0 : 1)
    }

    /// A prefix's route target: its chain's group, if the group is in the kernel.
    func target(for prefix: RoutePrefix, chain: ChainID?) -> KernelRoute.Target? {
        guard let chain else { return nil }
        let id = Self.groupID(chain, prefix.family)
        return groups[id] == nil ? nil : .nexthopObject(id)
    }
}

/// Each remote prefix with its chain in the RIB (nil: none, the prefix has no route), looked up once for a full
/// sync: kernel mode needs it for the groups to make and for the routes' targets, and a million lookups took
/// half a second each time.
typealias RemoteChains = [(prefix: RoutePrefix, chain: ChainID?)]

extension Gateway {
    /// The nexthop of each tunnel with an interface, both families.
    func tunnelNexthops(interfaces: [String: UInt32]) -> [NexthopObject] {
        var objects: [NexthopObject] = []
        for (index, tunnel) in config.tunnels.enumerated() {
            guard let interface = tunnel.interface, let device = interfaces[interface] else { continue }
            let id = TunnelID(index)
            objects.append(
                NexthopObject(
                    id: KernelModeState.tunnelID(id, .ipv4), protocol: config.linux.protocol,
                    kind: .device(device, gateway: tunnel.nextHopIPv4.map { .v4($0) }, family: .ipv4)))
            objects.append(
                NexthopObject(
                    id: KernelModeState.tunnelID(id, .ipv6), protocol: config.linux.protocol,
                    kind: .device(device, gateway: tunnel.nextHopIPv6.map { .v6($0) }, family: .ipv6)))
        }
        return objects
    }

    /// The group a chain needs now in one family, or nil while no connection carries it.
    func chainGroup(_ chain: ChainID, _ family: IPFamily) -> NexthopObject? {
        guard let carriers = router.carriers(of: chain), let members = groupMembers(carriers, family) else {
            return nil
        }
        let buckets: UInt16? = router.isMultipath(chain) ? UInt16(clamping: config.ecmp.buckets) : nil
        return NexthopObject(
            id: KernelModeState.groupID(chain, family), protocol: config.linux.protocol,
            kind: .group(members, resilientBuckets: buckets))
    }

    /// A group's members for `carriers`: each connection's selected tunnel in `family`, with its weight. Nil when a
    /// selected tunnel's nexthop is not in the kernel (the kernel removed it and it cannot be restored yet: the
    /// group keeps its old members until the retry, which this schedules) or when no carrier has a selected tunnel.
    func groupMembers(_ carriers: [(connection: ConnectionID, weight: UInt8)], _ family: IPFamily)
        -> [NexthopObject.GroupMember]?
    {
        var members: [NexthopObject.GroupMember] = []
        for carrier in carriers {
            guard let tunnel = router.selectedTunnel(of: carrier.connection) else { continue }
            let id = KernelModeState.tunnelID(tunnel, family)
            // A tunnel nexthop the kernel removed and that cannot be restored yet: the group keeps its old
            // members until the retry.
            guard state.kernelMode?.tunnels.contains(id) ?? true else {
                state.kernelMode?.retryAt = now &+ 1_000_000_000
                return nil
            }
            members.append(.init(id: id, weight: UInt16(carrier.weight)))
        }
        return members.isEmpty ? nil : members
    }

    /// Kernel mode's sysctls, in this namespace:
    /// - `net.ipv4.nexthop_compat_mode` 0 (both families): with 1, replacing a nexthop group announces every route
    ///   that uses it, so a failover with a full table sends a million notifications and takes time in proportion;
    ///   with 0 it is one message whatever the table size.
    /// - `net.ipv4.fib_multipath_hash_policy` and the IPv6 one: 1 (the 5-tuple) for `ecmp.hash: l3l4`, 0 (addresses)
    ///   for `l3`, so that the kernel spreads flows as the configuration says.
    /// - `net.ipv4.fib_multipath_hash_seed` (Linux 6.11 on, both families): `ecmp.seed`, if the file sets one.
    /// Like the others, the seed is left as it is at stop.
    func tuneKernelForKernelMode() {
        let policy = config.ecmp.hash == .l3l4 ? "1" : "0"
        var settings = [
            (KernelSetting("net", "ipv4", "nexthop_compat_mode"), "0"),
            (KernelSetting("net", "ipv4", "fib_multipath_hash_policy"), policy),
            (KernelSetting("net", "ipv6", "fib_multipath_hash_policy"), policy),
        ]
        // Only a seed the file sets: without one the kernel keeps its own (random unless someone set it). The one
        // setting covers IPv6 too (there is no net.ipv6 one); check-config refused a seed the kernel cannot take.
        if config.ecmp.seed != 0 {
            settings.append((Self.multipathHashSeed, String(config.ecmp.seed)))
        }
        for (setting, value) in settings {
            do {
                let old = try kernel.read(setting)
                guard old != value else { continue }
                try kernel.write(setting, value)
                log.info("kernel mode: \(setting) \(old) -> \(value)")
            } catch {
                log.warning("kernel mode: cannot set \(setting) to \(value): \(error)")
            }
        }
    }

    /// At start: Tandem's nexthop objects exactly as the state needs them; stale ones (a previous run's) go. A
    /// tunnel nexthop the kernel refuses (its device is not ready, its gateway unreachable) is pending and retried.
    ///
    /// - Parameter chains: The remote prefixes' chains (``remoteChains()``).
    func installNexthops(interfaces: [String: UInt32], chains: RemoteChains) throws(SystemError) {
        let present = try kernel.nexthops(protocol: config.linux.protocol)
        let tunnels = tunnelNexthops(interfaces: interfaces)
        state.kernelMode = KernelModeState()
        state.kernelMode!.tunnels = Set(tunnels.map(\.id))
        let refused = try applyNexthopsReportingRefused(tunnels.map { .add($0, replace: true) })
        state.kernelMode!.tunnels.subtract(refused)
        state.pending.nexthops.formUnion(refused)
        var failures = try updateChainGroups(of: chains)
        failures += try installPolicySets()
        let wanted = Set(tunnels.map(\.id)).union(state.kernelMode!.groups.keys)
            .union(state.kernelMode!.policyGroups.keys)
        // Groups before their members: a member cannot go while a group holds it.
        let stale = present.filter { !wanted.contains($0.id) }.sorted { $0.isGroup && !$1.isGroup }
        failures += try applyNexthops(stale.map { .delete(id: $0.id) })
        for failure in failures { log.error("\(failure)") }
        log.info(
            "kernel mode: \(tunnels.count - refused.count) tunnel nexthops, \(state.kernelMode!.groups.count) chain "
                + "groups, \(state.kernelMode!.policyGroups.count) policy groups, \(stale.count) stale nexthops removed")
    }

    /// Applies nexthop changes; logs and counts the refusals, and returns them.
    func applyNexthops(_ changes: [NexthopChange]) throws(SystemError) -> [SystemError] {
        let refusals = try kernel.refusals(applying: changes)
        if let last = refusals.last { state.pending.lastError = last.error }
        return refusals.map(\.error)
    }

    /// Applies nexthop changes; the ids of the adds the kernel refused (their errors are logged).
    func applyNexthopsReportingRefused(_ changes: [NexthopChange]) throws(SystemError) -> Set<UInt32> {
        var refused: Set<UInt32> = []
        for refusal in try kernel.refusals(applying: changes) {
            log.error("\(refusal.error)")
            metrics.recordNetlinkErrors(1)
            state.pending.lastError = refusal.error
            if case .add(let object, _) = changes[refusal.index] { refused.insert(object.id) }
        }
        return refused
    }

    /// Makes the groups of `prefixes`' chains present and current; with `removeUnused`, deletes the groups that no
    /// remote prefix uses any more (`prefixes` must then be all of them).
    func updateChainGroups(for prefixes: some Sequence<RoutePrefix>, removeUnused: Bool = false)
        throws(SystemError) -> [SystemError]
    {
        try updateChainGroups(of: prefixes.lazy.map { ($0, self.router.chain(of: $0)) }, removeUnused: removeUnused)
    }

    /// ``updateChainGroups(for:removeUnused:)`` with each prefix's chain looked up already.
    func updateChainGroups(
        of chains: some Sequence<(prefix: RoutePrefix, chain: ChainID?)>, removeUnused: Bool = false
    ) throws(SystemError) -> [SystemError] {
        guard state.kernelMode != nil else { return [] }
        var needed: Set<UInt32> = []
        // Nearly every prefix of a table has the chain of the one before it: a hash for each of a million is not
        // needed. (Nor a lookup in an empty dictionary.)
        var last: UInt32?
        let systemRoutes = state.systemRouteTunnels
        for (prefix, chain) in chains {
            guard let chain, systemRoutes.isEmpty || systemRoutes[prefix] == nil else { continue }
            let id = KernelModeState.groupID(chain, prefix.family)
            if id != last {
                needed.insert(id)
                last = id
            }
        }
        var failures = try refreshChainGroups(needed)
        if removeUnused {
            let unused = state.kernelMode!.groups.keys.filter { !needed.contains($0) }
            failures += try applyNexthops(unused.map { .delete(id: $0) })
            for id in unused { state.kernelMode!.groups[id] = nil }
        }
        return failures
    }

    /// Replaces each of the groups `ids` whose members changed: after a failover that is one RTM_NEWNEXTHOP per
    /// group the connection is in. A chain with no carrier keeps its last members (the kernel has no empty group;
    /// its traffic is lost either way, as in userspace mode).
    func refreshChainGroups(_ ids: Set<UInt32>) throws(SystemError) -> [SystemError] {
        guard state.kernelMode != nil else { return [] }
        var changes: [NexthopChange] = []
        var before: [UInt32: [NexthopObject.GroupMember]] = [:]
        for id in ids.sorted() {
            let offset = id - KernelModeState.chainBase
            let chain = ChainID(rawValue: offset / 2)
            guard let group = chainGroup(chain, offset % 2 == 0 ? .ipv4 : .ipv6),
                case .group(let members, _) = group.kind, state.kernelMode!.groups[id] != members
            else { continue }
            // Create or replace: after a crash the group may be there already, with other members.
            changes.append(.add(group, replace: true))
            before[id] = state.kernelMode!.groups[id]
            state.kernelMode!.groups[id] = members
        }
        var failures: [SystemError] = []
        for refusal in try kernel.refusals(applying: changes) {
            failures.append(refusal.error)
            state.pending.lastError = refusal.error
            guard case .add(let group, _) = changes[refusal.index] else { continue }
            // Refused: the kernel holds what it held (or nothing); retried with the pending changes.
            state.kernelMode!.groups[group.id] = before[group.id] ?? nil
            state.pending.nexthops.insert(group.id)
        }
        return failures
    }

    /// At stop: every nexthop object of Tandem's (their routes go with them).
    func removeNexthops() throws(SystemError) {
        let present = try kernel.nexthops(protocol: config.linux.protocol)
        let ordered = present.sorted { $0.isGroup && !$1.isGroup }
        let failures = try applyNexthops(ordered.map { .delete(id: $0.id) })
        for failure in failures { log.error("\(failure)") }
    }
}

extension Gateway {
    /// Kernel mode, after a selection change or a refusal. A tunnel interface that loses its carrier makes the kernel
    /// delete the nexthop objects on it, and a group that loses its last member goes with the routes that use it.
    /// So: the tunnel nexthops that vanished come back (where their device is up again), the groups are brought to
    /// the new selection (one RTM_NEWNEXTHOP each), and the routes of vanished groups are put back.
    ///
    /// - Parameter refused: Nexthops the kernel refused before (a retry), wanted whether selected or not.
    func repairAndRefreshNexthops(retrying refused: Set<UInt32> = []) {
        guard let kernelState = state.kernelMode else { return }
        do {
            let present = Set(try kernel.nexthops(protocol: config.linux.protocol).map(\.id))
            // The selected tunnels' nexthops that vanished (a carrier loss) come back now; another comes back when it is
            // selected. Those the kernel refused stay wanted, selected or not: until they are in, something configured
            // is missing (and the gateway not ready).
            let selected = Set(
                router.configuration.connections.indices.compactMap {
                    router.selectedTunnel(of: ConnectionID($0))
                }.flatMap { [KernelModeState.tunnelID($0, .ipv4), KernelModeState.tunnelID($0, .ipv6)] })
            let refusedBefore = state.pending.nexthops.union(refused)
            let missingTunnels = tunnelNexthops(interfaces: tunnelInterfaces(of: config))
                .filter { !present.contains($0.id) && (selected.contains($0.id) || refusedBefore.contains($0.id)) }
            state.pending.nexthops = []
            // A device still down refuses its nexthop: that tunnel carries nothing now anyway; retried.
            let refused = try applyNexthopsReportingRefused(missingTunnels.map { .add($0, replace: true) })
            state.pending.nexthops.formUnion(refused)
            state.kernelMode!.tunnels = present.union(missingTunnels.map(\.id)).subtracting(refused)
            state.kernelMode!.retryAt = nil
            let vanished = Set(kernelState.groups.keys).subtracting(present)
            for id in vanished { state.kernelMode!.groups[id] = nil }
            // The routes that went with them are sent again; their prefixes are looked at again (a group refused
            // now leaves them unrouted until it is in).
            var lost: Set<RoutePrefix> = []
            var lostPrefixes: [RoutePrefix] = []
            if !vanished.isEmpty {
                for (prefix, target) in state.installedRemote {
                    guard case .nexthopObject(let id) = target, vanished.contains(id) else { continue }
                    state.installedRemote[prefix] = nil
                    lost.insert(prefix)
                }
                lostPrefixes = state.remoteRoutes.prefixes(goingTo: Set(vanished.map { .nexthopObject($0) }))
                log.warning("the kernel removed \(vanished.count) nexthop group(s) with their routes; restoring them")
            }
            var failures = try refreshChainGroups(Set(kernelState.groups.keys))
            forgetVanishedPolicyGroups(present: present)
            failures += try refreshPolicySets()
            for failure in failures { log.error("\(failure)") }
            if !state.unrouted.isEmpty || !lost.isEmpty {
                updateRemoteRoutes(state.unrouted.union(lostPrefixes), resend: lost)
            }
        } catch {
            log.error("updating nexthop groups after a failover: \(error)")
        }
        scheduleRetryIfPending()
    }
}

extension NexthopObject {
    var isGroup: Bool {
        if case .group = kind { return true }
        return false
    }
}
