// An in-memory kernel behind the same protocol as the real one (TandemDaemon's KernelPort), for tests without root:
// routing tables, rules, nexthop objects and groups, links and sysctls, with the kernel's rules where Tandem depends
// on them (a route through a missing device or nexthop is refused; deleting a device deletes its routes and
// nexthops, and a group left empty goes with its routes), plus what a test needs to make a router's faults: refuse
// any change with a chosen errno, lose notifications (ENOBUFS), delete a device, count what was asked.

import TandemDaemon
import TandemLinux
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// A network namespace's kernel, in memory.
public final class FakeKernel: KernelPort, RouteNotificationSource {
    /// A route's key: the kernel keeps one route per table and prefix (Tandem sets no metric or TOS).
    public struct RouteKey: Hashable, Sendable {
        public var table: UInt32
        public var prefix: RoutePrefix
        public init(table: UInt32, prefix: RoutePrefix) {
            self.table = table
            self.prefix = prefix
        }
    }

    /// One change the fake was asked to make, for a refusal rule to look at.
    public enum Change: Sendable {
        case route(RouteChange)
        case rule(RoutingRule, remove: Bool)
        case nexthop(NexthopChange)
        case link(LinkChange)
        case neighbour(NeighbourChange)
    }

    public private(set) var installedRoutes: [RouteKey: KernelRoute] = [:]
    public private(set) var installedRules: [RoutingRule] = []
    public private(set) var installedNexthops: [UInt32: NexthopObject] = [:]
    /// Links by name: index and whether up.
    public private(set) var links: [String: (index: UInt32, up: Bool)] = [:]
    /// Neighbour entries. One the fake is asked to keep resolved is resolved at once (NUD_REACHABLE) if its device
    /// is up, and stays NUD_NONE otherwise, as the kernel's would.
    public private(set) var neighbourEntries: [NeighbourEntry.Key: NeighbourEntry] = [:]
    public var settings: [String: String] = [
        "net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1", "net.ipv4.conf.all.rp_filter": "0",
    ]
    private var nextIndex: UInt32 = 100
    /// Refusal rules: the first that matches a change refuses it with its errno.
    private var refusals: [(matches: (Change) -> Bool, code: Int32, remaining: Int?)] = []
    /// Notifications for the watched table, as a routing daemon's installs make them.
    private var queued: [RouteNotification] = []
    private var overflowed = false
    /// Counts, for tests that check how much was asked.
    public private(set) var routeChangesApplied = 0
    public private(set) var dumps = 0

    public init() {}

    // MARK: What tests do to it

    /// Adds a network device (a tunnel's interface, a TUN device); returns its index.
    @discardableResult
    public func addLink(_ name: String, up: Bool = true) -> UInt32 {
        if let existing = links[name] { return existing.index }
        nextIndex += 1
        links[name] = (nextIndex, up)
        return nextIndex
    }

    /// Deletes a device as the kernel does: its routes, the nexthops on it, and the groups left empty with the
    /// routes through them, go too.
    public func deleteLink(_ name: String) {
        guard let (index, _) = links.removeValue(forKey: name) else { return }
        neighbourEntries = neighbourEntries.filter { $0.key.interfaceIndex != index }
        installedRoutes = installedRoutes.filter { !Self.route($0.value, uses: index) }
        let gone = Set(installedNexthops.values.filter { object in
            if case .device(let device, _, _) = object.kind { return device == index }
            return false
        }.map(\.id))
        removeNexthops(gone)
    }

    /// Sets a device's state as its carrier or an `ip link set` would. Going down flushes the device's neighbour
    /// entries, managed ones included, and coming up does not bring them back, as Linux does on admin down and on
    /// carrier loss (seen with `ip neigh` on a veth pair, Linux 6.18). The routes through it stay: tests that want
    /// the kernel's deletions on admin down delete them themselves.
    public func setLink(_ name: String, up: Bool) {
        guard let (index, _) = links[name] else { return }
        links[name]?.up = up
        if !up { neighbourEntries = neighbourEntries.filter { $0.key.interfaceIndex != index } }
    }

    /// An entry the operator or traffic made (`ip neigh add ... nud permanent`, a resolution).
    public func addNeighbour(_ entry: NeighbourEntry) { neighbourEntries[entry.key] = entry }

    /// Refuses the changes `matches` picks with `code` (the next `times` of them, or all while the rule stands).
    public func refuse(_ code: Int32, times: Int? = nil, where matches: @escaping (Change) -> Bool) {
        refusals.append((matches, code, times))
    }

    /// Refuses no more.
    public func stopRefusing() { refusals.removeAll() }

    /// A routing daemon (BIRD) installs a route: it is in the table, and its notification is queued.
    public func install(_ route: KernelRoute) {
        installedRoutes[RouteKey(table: route.table, prefix: route.prefix)] = route
        queued.append(.added(route))
    }

    /// A routing daemon withdraws a route.
    public func uninstall(_ route: KernelRoute) {
        installedRoutes[RouteKey(table: route.table, prefix: route.prefix)] = nil
        queued.append(.removed(route))
    }

    /// The notification socket overflows: the queued notifications are lost, the next read says ENOBUFS.
    public func loseNotifications() {
        queued.removeAll()
        overflowed = true
    }

    /// The routes of a table, by prefix.
    public func table(_ table: UInt32) -> [RoutePrefix: KernelRoute] {
        Dictionary(installedRoutes.values.filter { $0.table == table }.map { ($0.prefix, $0) }, uniquingKeysWith: { a, _ in a })
    }

    // MARK: KernelPort

    public func routes(tables: Set<UInt32>, protocol proto: UInt8?) throws(SystemError) -> [KernelRoute] {
        dumps += 1
        return installedRoutes.values.filter { tables.contains($0.table) && (proto == nil || $0.protocol == proto) }
            .sorted { ($0.table, $0.prefix) < ($1.table, $1.prefix) }
    }

    public func refusals(applying changes: [RouteChange]) throws(SystemError) -> [Refusal] {
        routeChangesApplied += changes.count
        return apply(changes, describe: { "\($0)" }, refusal: { refusal(for: .route($0)) ?? check($0) }) { change in
            switch change {
            case .add(let route, _): installedRoutes[RouteKey(table: route.table, prefix: route.prefix)] = route
            case .delete(let route): installedRoutes[RouteKey(table: route.table, prefix: route.prefix)] = nil
            }
        }
    }

    public func rules(family: IPFamily) throws(SystemError) -> [RoutingRule] {
        dumps += 1
        return installedRules.filter { $0.family == family }.sorted { $0.priority < $1.priority }
    }

    public func refusals(applying rules: [RoutingRule], remove: Bool) throws(SystemError) -> [Refusal] {
        apply(
            rules, describe: { "\($0)" },
            refusal: { rule in
                let exists = installedRules.contains(rule)
                return refusal(for: .rule(rule, remove: remove)) ?? (remove ? (exists ? nil : ENOENT) : (exists ? EEXIST : nil))
            }
        ) { rule in
            if remove { installedRules.removeAll { $0 == rule } } else { installedRules.append(rule) }
        }
    }

    public func nexthops(protocol proto: UInt8?) throws(SystemError) -> [NexthopObject] {
        dumps += 1
        return installedNexthops.values.filter { proto == nil || $0.protocol == proto }.sorted { $0.id < $1.id }
    }

    public func refusals(applying changes: [NexthopChange]) throws(SystemError) -> [Refusal] {
        apply(changes, describe: { "\($0)" }, refusal: { refusal(for: .nexthop($0)) ?? check($0) }) { change in
            switch change {
            case .add(let object, _): installedNexthops[object.id] = object
            case .delete(let id): removeNexthops([id])
            }
        }
    }

    public func refusals(applying changes: [LinkChange]) throws(SystemError) -> [Refusal] {
        apply(
            changes, describe: { "link \($0.name)" },
            refusal: { refusal(for: .link($0)) ?? (links[$0.name] == nil ? ENODEV : nil) }
        ) { change in
            if let up = change.up { links[change.name]!.up = up }
        }
    }

    public func neighbours() throws(SystemError) -> [NeighbourEntry] {
        dumps += 1
        return neighbourEntries.values.sorted {
            ($0.key.interfaceIndex, $0.key.address) < ($1.key.interfaceIndex, $1.key.address)
        }
    }

    public func refusals(applying changes: [NeighbourChange]) throws(SystemError) -> [Refusal] {
        apply(changes, describe: { "\($0)" }, refusal: { refusal(for: .neighbour($0)) ?? check($0) }) { change in
            switch change {
            case .keepResolved(let key, let proto):
                let up = links.values.contains { $0.index == key.interfaceIndex && $0.up }
                var entry = neighbourEntries[key]
                    ?? NeighbourEntry(key: key, state: [], managed: false, protocol: 0)
                // As the kernel: the state stays (a permanent one becomes dynamic), the entry is resolved if it can be.
                entry.state.remove(.permanent)
                if up && !entry.isResolved { entry.state = .reachable }
                entry.managed = true
                entry.protocol = proto
                neighbourEntries[key] = entry
            case .delete(let key):
                neighbourEntries[key] = nil
            }
        }
    }

    /// Applies `changes` in order as the kernel does a batch: each one `refusal` gives an errno for is reported
    /// with its index and changes nothing; the others are `applied`.
    private func apply<Change>(
        _ changes: [Change], describe: (Change) -> String, refusal: (Change) -> Int32?, _ applied: (Change) -> Void
    ) -> [Refusal] {
        var refused: [Refusal] = []
        for (index, change) in changes.enumerated() {
            if let code = refusal(change) {
                refused.append(Refusal(index: index, error: SystemError(code: code, operation: describe(change))))
            } else {
                applied(change)
            }
        }
        return refused
    }

    public func interfaceIndex(named name: String) -> UInt32? { links[name]?.index }

    public func linkStates() throws(SystemError) -> [LinkState] {
        links.map { LinkState(name: $0.key, index: $0.value.index, up: $0.value.up) }.sorted { $0.index < $1.index }
    }

    public func read(_ setting: KernelSetting) throws(SystemError) -> String {
        guard let value = settings[setting.description] else {
            throw SystemError(code: ENOENT, operation: "reading \(setting)")
        }
        return value
    }

    public func write(_ setting: KernelSetting, _ value: String) throws(SystemError) {
        settings[setting.description] = value
    }

    // MARK: RouteNotificationSource

    public func read(table: UInt32, protocols: Set<UInt8>, atMost maximum: Int) throws(SystemError)
        -> [RouteNotification]
    {
        if overflowed {
            overflowed = false
            throw SystemError(code: ENOBUFS, operation: "reading route notifications")
        }
        var read: [RouteNotification] = []
        var consumed = 0
        for notification in queued where read.count < maximum {
            consumed += 1
            switch notification {
            case .added(let route), .removed(let route):
                if route.table == table && protocols.contains(route.protocol) { read.append(notification) }
            }
        }
        queued.removeFirst(consumed)
        return read
    }

    /// Notifications not read yet.
    public var queuedNotifications: Int { queued.count }

    // MARK: The kernel's rules

    private func refusal(for change: Change) -> Int32? {
        guard let index = refusals.firstIndex(where: { $0.matches(change) }) else { return nil }
        let code = refusals[index].code
        if let remaining = refusals[index].remaining {
            if remaining <= 1 { refusals.remove(at: index) } else { refusals[index].remaining = remaining - 1 }
        }
        return code
    }

    private var indices: Set<UInt32> { Set(links.values.map(\.index)) }

    /// What the kernel refuses of a route: a missing device or nexthop object; a delete of nothing (ESRCH).
    private func check(_ change: RouteChange) -> Int32? {
        switch change {
        case .add(let route, let replace):
            if !replace, installedRoutes[RouteKey(table: route.table, prefix: route.prefix)] != nil { return EEXIST }
            switch route.target {
            case .device(let index), .gateway(_, let index): return indices.contains(index) ? nil : ENODEV
            case .multipath(let hops): return hops.allSatisfy { indices.contains($0.device) } ? nil : ENODEV
            case .nexthopObject(let id): return installedNexthops[id] == nil ? EINVAL : nil
            case .blackhole: return nil
            }
        case .delete(let route):
            return installedRoutes[RouteKey(table: route.table, prefix: route.prefix)] == nil ? ESRCH : nil
        }
    }

    /// A neighbour on a device that does not exist (ENODEV); the deletion of one that is not there (ENOENT).
    private func check(_ change: NeighbourChange) -> Int32? {
        switch change {
        case .keepResolved(let key, _):
            links.values.contains { $0.index == key.interfaceIndex } ? nil : ENODEV
        case .delete(let key):
            neighbourEntries[key] == nil ? ENOENT : nil
        }
    }

    private func check(_ change: NexthopChange) -> Int32? {
        switch change {
        case .add(let object, let replace):
            if !replace, installedNexthops[object.id] != nil { return EEXIST }
            switch object.kind {
            case .device(let index, _, _): return indices.contains(index) ? nil : ENODEV
            case .group(let members, _): return members.allSatisfy { installedNexthops[$0.id] != nil } ? nil : EINVAL
            default: return nil
            }
        case .delete(let id): return installedNexthops[id] == nil ? ENOENT : nil
        }
    }

    /// Removes nexthops as the kernel does: members leave their groups, an empty group goes, and the routes through
    /// any removed object go with it.
    private func removeNexthops(_ ids: Set<UInt32>) {
        var gone = ids
        for id in ids { installedNexthops[id] = nil }
        for (id, object) in installedNexthops {
            guard case .group(let members, let buckets) = object.kind else { continue }
            let kept = members.filter { !gone.contains($0.id) }
            if kept.isEmpty {
                installedNexthops[id] = nil
                gone.insert(id)
            } else if kept.count != members.count {
                installedNexthops[id] = NexthopObject(id: id, protocol: object.protocol, kind: .group(kept, resilientBuckets: buckets))
            }
        }
        installedRoutes = installedRoutes.filter { entry in
            if case .nexthopObject(let id) = entry.value.target { return !gone.contains(id) }
            return true
        }
    }

    private static func route(_ route: KernelRoute, uses index: UInt32) -> Bool {
        switch route.target {
        case .device(let device), .gateway(_, let device): device == index
        case .multipath(let hops): hops.contains { $0.device == index }
        case .nexthopObject, .blackhole: false
        }
    }
}
