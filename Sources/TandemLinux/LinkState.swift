// Whether a network device can carry traffic, as rtnetlink says it: what a tunnel's interface losing its carrier,
// going admin down or being deleted means for failover. Read once at start (a dump) and then from notifications
// (LinkMonitor).

import CMnl

#if canImport(Glibc)
import Glibc
#endif

/// A network device's name, index and whether it can carry traffic.
public struct LinkState: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var index: UInt32
    /// Admin up (IFF_UP) and operationally up (IFF_RUNNING: the carrier is there, operstate up or unknown); false for
    /// a deleted device.
    public var up: Bool

    public init(name: String, index: UInt32, up: Bool) {
        self.name = name
        self.index = index
        self.up = up
    }

    /// "gw-a (index 4) up", "gw-a (index 4) down".
    public var description: String { "\(name) (index \(index)) \(up ? "up" : "down")" }

    /// Whether `flags` (ifinfomsg's ifi_flags) say the device can carry traffic.
    public static func isUp(flags: UInt32) -> Bool {
        let wanted = UInt32(IFF_UP) | UInt32(IFF_RUNNING)
        return flags & wanted == wanted
    }

    /// Reads an RTM_NEWLINK or RTM_DELLINK message (a deleted device is down). Nil for another type or a malformed
    /// message: shorter than ifinfomsg, without a name, or a name that is not a string.
    static func parse(_ header: UnsafePointer<nlmsghdr>) -> LinkState? {
        let type = Int32(header.pointee.nlmsg_type)
        guard type == Int32(RTM_NEWLINK) || type == Int32(RTM_DELLINK) else { return nil }
        let view = NetlinkMessageView(header: header)
        guard let info = view.familyHeader(ifinfomsg.self), info.ifi_index > 0 else { return nil }
        var name: String?
        var malformed = false
        view.forEachAttribute(headerSize: MemoryLayout<ifinfomsg>.size) { attribute in
            if attribute.type == UInt16(IFLA_IFNAME) { name = attribute.string.marking(&malformed) }
        }
        guard let name, !malformed else { return nil }
        return LinkState(
            name: name, index: UInt32(info.ifi_index),
            up: type == Int32(RTM_NEWLINK) && isUp(flags: info.ifi_flags))
    }
}

extension RouteNetlink {
    /// Every network device of the namespace with its state.
    /// The corresponding request is RTM_GETLINK with NLM_F_DUMP.
    public func links() throws(SystemError) -> [LinkState] {
        try dump(UInt16(RTM_GETLINK), family: AF_UNSPEC, headerSize: MemoryLayout<ifinfomsg>.size, what: "links") {
            LinkState.parse($0)
        }
    }
}
