// Links, addresses and policy-routing rules over the same rtnetlink socket: what `tandem run` needs to bring its
// TUN devices up, address them, and steer each egress device's traffic into its own routing table.

import CMnl
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// A change to a network device.
public struct LinkChange: Hashable, Sendable {
    /// The device's index (`if_nametoindex`), and its name for messages.
    public var index: UInt32
    public var name: String
    /// Up or down; nil leaves it.
    public var up: Bool?
    /// The MTU; nil leaves it.
    public var mtu: UInt32?

    public init(index: UInt32, name: String, up: Bool? = nil, mtu: UInt32? = nil) {
        self.index = index
        self.name = name
        self.up = up
        self.mtu = mtu
    }
}

/// An address on a device: the address itself and its prefix length (198.18.0.1/24).
public struct InterfaceAddress: Hashable, Sendable {
    public var device: UInt32
    public var deviceName: String
    /// The address, with the prefix's length (host bits are the address).
    public var address: IPAddressWithLength

    public init(device: UInt32, deviceName: String, address: IPAddressWithLength) {
        self.device = device
        self.deviceName = deviceName
        self.address = address
    }
}

/// An IPv4 or IPv6 address and a prefix length.
public enum IPAddressWithLength: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address, Int)
    case v6(IPv6Address, Int)

    public var description: String {
        switch self {
        case .v4(let address, let length): "\(address)/\(length)"
        case .v6(let address, let length): "\(address)/\(length)"
        }
    }
}

/// A policy-routing rule: packets that came in on `inputDevice` are looked up in `table`.
public struct RoutingRule: Hashable, Sendable, CustomStringConvertible {
    public var family: IPFamily
    public var priority: UInt32
    public var inputDevice: String
    public var table: UInt32

    public init(family: IPFamily, priority: UInt32, inputDevice: String, table: UInt32) {
        self.family = family
        self.priority = priority
        self.inputDevice = inputDevice
        self.table = table
    }

    public var description: String {
        "\(family == .ipv4 ? "ipv4" : "ipv6") rule \(priority): iif \(inputDevice) lookup \(table)"
    }
}

extension RouteNetlink {
    /// Brings devices up or down and sets their MTU (RTM_NEWLINK); returns the refusals.
    public func apply(_ changes: [LinkChange]) throws(SystemError) -> [SystemError] {
        try perform(
            count: changes.count, what: "links",
            operation: { "changing link \(changes[$0].name)" },
            write: { index, sequence, header in
                let change = changes[index]
                header.pointee.nlmsg_type = UInt16(RTM_NEWLINK)
                header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK)
                header.pointee.nlmsg_seq = sequence
                let info = mnl_nlmsg_put_extra_header(header, MemoryLayout<ifinfomsg>.size)
                    .assumingMemoryBound(to: ifinfomsg.self)
                info.pointee.ifi_family = UInt8(AF_UNSPEC)
                info.pointee.ifi_index = Int32(bitPattern: change.index)
                if let up = change.up {
                    info.pointee.ifi_change = UInt32(IFF_UP)
                    info.pointee.ifi_flags = up ? UInt32(IFF_UP) : 0
                }
                if let mtu = change.mtu { mnl_attr_put_u32(header, UInt16(IFLA_MTU), mtu) }
            })
    }

    /// Adds (or removes) addresses on devices (RTM_NEWADDR, RTM_DELADDR); returns the refusals.
    public func apply(addresses: [InterfaceAddress], remove: Bool = false) throws(SystemError) -> [SystemError] {
        try perform(
            count: addresses.count, what: "addresses",
            operation: { "\(remove ? "removing" : "adding") address \(addresses[$0].address) on \(addresses[$0].deviceName)" },
            write: { index, sequence, header in
                let entry = addresses[index]
                header.pointee.nlmsg_type = UInt16(remove ? RTM_DELADDR : RTM_NEWADDR)
                header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK | (remove ? 0 : NLM_F_CREATE | NLM_F_REPLACE))
                header.pointee.nlmsg_seq = sequence
                let message = mnl_nlmsg_put_extra_header(header, MemoryLayout<ifaddrmsg>.size)
                    .assumingMemoryBound(to: ifaddrmsg.self)
                message.pointee.ifa_index = entry.device
                message.pointee.ifa_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
                switch entry.address {
                case .v4(let address, let length):
                    message.pointee.ifa_family = UInt8(AF_INET)
                    message.pointee.ifa_prefixlen = UInt8(length)
                    var raw = address.rawValue.bigEndian
                    mnl_attr_put(header, UInt16(IFA_LOCAL), 4, &raw)
                    mnl_attr_put(header, UInt16(IFA_ADDRESS), 4, &raw)
                case .v6(let address, let length):
                    message.pointee.ifa_family = UInt8(AF_INET6)
                    message.pointee.ifa_prefixlen = UInt8(length)
                    // No duplicate address detection: Tandem's own addresses on its own devices.
                    message.pointee.ifa_flags = UInt8(IFA_F_NODAD)
                    var raw = address.rawValue.bigEndian
                    mnl_attr_put(header, UInt16(IFA_ADDRESS), 16, &raw)
                }
            })
    }

    /// Adds (or removes) policy-routing rules (RTM_NEWRULE, RTM_DELRULE); returns the refusals.
    public func apply(rules: [RoutingRule], remove: Bool = false) throws(SystemError) -> [SystemError] {
        try perform(
            count: rules.count, what: "rules",
            operation: { "\(remove ? "removing" : "adding") \(rules[$0])" },
            write: { index, sequence, header in
                let rule = rules[index]
                header.pointee.nlmsg_type = UInt16(remove ? RTM_DELRULE : RTM_NEWRULE)
                header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK | (remove ? 0 : NLM_F_CREATE | NLM_F_EXCL))
                header.pointee.nlmsg_seq = sequence
                // struct fib_rule_hdr has the layout of struct rtmsg (family, dst_len, src_len, tos, table, res1,
                // res2, action, flags); rtmsg is the one Swift imports.
                let message = mnl_nlmsg_put_extra_header(header, MemoryLayout<rtmsg>.size)
                    .assumingMemoryBound(to: rtmsg.self)
                message.pointee.rtm_family = UInt8(rule.family == .ipv4 ? AF_INET : AF_INET6)
                message.pointee.rtm_table = rule.table < 256 ? UInt8(rule.table) : 0
                message.pointee.rtm_type = 1  // FR_ACT_TO_TBL: look the packet up in the table
                mnl_attr_put_u32(header, UInt16(FRA_PRIORITY), rule.priority)
                mnl_attr_put_u32(header, UInt16(FRA_TABLE), rule.table)
                rule.inputDevice.withCString { name in _ = mnl_attr_put_strz(header, UInt16(FRA_IIFNAME), name) }
            })
    }
}
