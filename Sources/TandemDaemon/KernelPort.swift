// The kernel seam: everything the gateway's core asks of the kernel, as one protocol. `RouteNetlink` answers it on a
// router (below); `FakeKernel` (TandemKernelFake) answers it in memory for the tests, refusing any change with a
// chosen errno, deleting a device with what the kernel deletes with it, losing notifications. The core
// (``Gateway``) never makes an OS call itself: through this protocol it reads what the kernel holds and changes it.

import TandemLinux
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// What the gateway's core reads from and changes in the kernel of its network namespace.
public protocol KernelPort: AnyObject {
    /// The routes of `tables`, of one protocol if given (a dump).
    func routes(tables: Set<UInt32>, protocol: UInt8?) throws(SystemError) -> [KernelRoute]
    /// Adds, replaces and deletes routes; the refusals, each with its change's position.
    func refusals(applying changes: [RouteChange]) throws(SystemError) -> [Refusal]

    /// The rules of one family that look a table up (a dump).
    func rules(family: IPFamily) throws(SystemError) -> [RoutingRule]
    /// Adds or removes rules; the refusals, each with its rule's position.
    func refusals(applying rules: [RoutingRule], remove: Bool) throws(SystemError) -> [Refusal]

    /// The nexthop objects of one protocol, if given (a dump).
    func nexthops(protocol: UInt8?) throws(SystemError) -> [NexthopObject]
    /// Adds, replaces and deletes nexthop objects and groups, in order; the refusals with their positions.
    func refusals(applying changes: [NexthopChange]) throws(SystemError) -> [Refusal]

    /// Sets links up, their MTU and queue length; the refusals.
    func refusals(applying changes: [LinkChange]) throws(SystemError) -> [Refusal]
    /// The index of the network device `name`, or nil when there is none.
    func interfaceIndex(named name: String) -> UInt32?
    /// Every network device with whether it can carry traffic (a dump).
    func linkStates() throws(SystemError) -> [LinkState]

    /// The neighbour entries of both families (a dump).
    func neighbours() throws(SystemError) -> [NeighbourEntry]
    /// Makes neighbour entries managed, or deletes them; the refusals with their positions.
    func refusals(applying changes: [NeighbourChange]) throws(SystemError) -> [Refusal]

    /// A `/proc/sys` setting of this namespace.
    func read(_ setting: KernelSetting) throws(SystemError) -> String
    func write(_ setting: KernelSetting, _ value: String) throws(SystemError)
}

extension KernelPort {
    /// The routes of one table.
    func routes(table: UInt32, protocol: UInt8? = nil) throws(SystemError) -> [KernelRoute] {
        try routes(tables: [table], protocol: `protocol`)
    }

    /// The indices of `names` that exist.
    func interfaceIndices(of names: some Sequence<String>) -> [String: UInt32] {
        var indices: [String: UInt32] = [:]
        for name in names { if let index = interfaceIndex(named: name) { indices[name] = index } }
        return indices
    }
}

/// The real kernel: rtnetlink over libmnl, `if_nametoindex`, /proc/sys.
final class LinuxKernel: KernelPort {
    let netlink: RouteNetlink

    init(netlink: RouteNetlink) { self.netlink = netlink }

    func routes(tables: Set<UInt32>, protocol: UInt8?) throws(SystemError) -> [KernelRoute] {
        try netlink.routes(tables: tables, protocol: `protocol`)
    }

    func refusals(applying changes: [RouteChange]) throws(SystemError) -> [Refusal] {
        try netlink.refusals(applying: changes)
    }

    func rules(family: IPFamily) throws(SystemError) -> [RoutingRule] { try netlink.rules(family: family) }

    func refusals(applying rules: [RoutingRule], remove: Bool) throws(SystemError) -> [Refusal] {
        try netlink.refusals(applying: rules, remove: remove)
    }

    func nexthops(protocol: UInt8?) throws(SystemError) -> [NexthopObject] { try netlink.nexthops(protocol: `protocol`) }

    func refusals(applying changes: [NexthopChange]) throws(SystemError) -> [Refusal] {
        try netlink.refusals(applying: changes)
    }

    func refusals(applying changes: [LinkChange]) throws(SystemError) -> [Refusal] {
        try netlink.refusals(applying: changes)
    }

    func linkStates() throws(SystemError) -> [LinkState] { try netlink.links() }

    func neighbours() throws(SystemError) -> [NeighbourEntry] { try netlink.neighbours() }

    func refusals(applying changes: [NeighbourChange]) throws(SystemError) -> [Refusal] {
        try netlink.refusals(applying: changes)
    }

    func interfaceIndex(named name: String) -> UInt32? {
        let index = if_nametoindex(name)
        return index == 0 ? nil : index
    }

    func read(_ setting: KernelSetting) throws(SystemError) -> String { try setting.read() }
    func write(_ setting: KernelSetting, _ value: String) throws(SystemError) { try setting.write(value) }
}

/// Where learned routes' notifications come from: the daemon's ``RouteMonitor``, or a fake kernel's list.
public protocol RouteNotificationSource: AnyObject {
    /// The notifications queued since the last read, of one table and its watched protocols: at most about
    /// `maximum` of them (the rest stay queued for the next read).
    ///
    /// - Throws: ``SystemError`` with ENOBUFS when some were lost (the socket overflowed): the caller resyncs.
    func read(table: UInt32, protocols: Set<UInt8>, atMost maximum: Int) throws(SystemError) -> [RouteNotification]
}

extension RouteMonitor: RouteNotificationSource {}
