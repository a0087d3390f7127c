// Links, addresses and policy-routing rules over the same rtnetlink socket: what `tandem run` needs to bring its
// TUN devices up, address them, and steer each egress device's traffic into its own routing table.

import CMnl
import TandemPacket

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
    /// The transmit queue's length in packets (IFLA_TXQLEN; for a TUN device, the packets the kernel may queue
    /// for its reader); nil leaves it.
    public var transmitQueueLength: UInt32?

    public init(index: UInt32, name: String, up: Bool? = nil, mtu: UInt32? = nil, transmitQueueLength: UInt32? = nil) {
        self.index = index
        self.name = name
        self.up = up
        self.mtu = mtu
        self.transmitQueueLength = transmitQueueLength
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

/// A policy-routing rule: packets that came in on `inputDevice`, or sockets bound to `outputDevice` (or all
/// packets), are looked up in `table`.
public struct RoutingRule: Hashable, Sendable, CustomStringConvertible {
    public var family: IPFamily
    public var priority: UInt32
    /// The input device's name (FRA_IIFNAME); nil selects every packet.
    public var inputDevice: String?
    /// The output device's name (FRA_OIFNAME): selects locally made packets of sockets bound to it
    /// (SO_BINDTODEVICE), such as a tunnel's health probes; nil selects every packet.
    public var outputDevice: String?
    public var table: UInt32
    /// The FRA_PROTOCOL that marks the rule's owner (Linux 4.17), as rtm_protocol marks a route's; 0 is none.
    public var `protocol`: UInt8

    public init(
        family: IPFamily, priority: UInt32, inputDevice: String?, outputDevice: String? = nil, table: UInt32,
        protocol: UInt8 = 0
    ) {
        self.family = family
        self.priority = priority
        self.inputDevice = inputDevice
        self.outputDevice = outputDevice
        self.table = table
        self.protocol = `protocol`
    }

    /// "ipv4 rule 1000: iif v1 lookup 150", "ipv6 rule 900: lookup 200 proto 201".
    public var description: String {
        let selector = (inputDevice.map { "iif \($0) " } ?? "") + (outputDevice.map { "oif \($0) " } ?? "")
        let owner = self.protocol == 0 ? "" : " proto \(self.protocol)"
        return "\(family == .ipv4 ? "ipv4" : "ipv6") rule \(priority): \(selector)lookup \(table)\(owner)"
    }
}

extension RouteNetlink {
    /// Brings devices up or down and sets their MTU (RTM_NEWLINK); returns the refusals.
    public func apply(_ changes: [LinkChange]) throws(SystemError) -> [SystemError] {
        try refusals(applying: changes).map(\.error)
    }

    /// ``apply(_:)``, each refusal with the position of its change in `changes`.
    public func refusals(applying changes: [LinkChange]) throws(SystemError) -> [Refusal] {
        try performReportingIndices(
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
                if let length = change.transmitQueueLength { mnl_attr_put_u32(header, UInt16(IFLA_TXQLEN), length) }
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
        try refusals(applying: rules, remove: remove).map(\.error)
    }

    /// ``apply(rules:remove:)``, each refusal with the position of its rule in `rules`.
    public func refusals(applying rules: [RoutingRule], remove: Bool = false) throws(SystemError) -> [Refusal] {
        try performReportingIndices(
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
                if let device = rule.outputDevice {
                    device.withCString { name in mnl_attr_put_strz(header, UInt16(FRA_OIFNAME), name) }
                }
                if let device = rule.inputDevice {
                    device.withCString { name in mnl_attr_put_strz(header, UInt16(FRA_IIFNAME), name) }
                }
                // Only when set: a kernel before 4.17 does not know the attribute, and 0 is the kernel's default.
                if rule.protocol != 0 { mnl_attr_put_u8(header, UInt16(FRA_PROTOCOL), rule.protocol) }
            })
    }

    /// The rules of one family that look packets up in a table, from a dump (RTM_GETRULE with NLM_F_DUMP), in the
    /// kernel's order (by priority). Rules with a selector or an action ``RoutingRule`` cannot express (source or
    /// destination prefix, fwmark, output device, ports, goto, unreachable, ...) are left out, so that a caller
    /// that deletes what it reads deletes only rules of this shape.
    public func rules(family: IPFamily) throws(SystemError) -> [RoutingRule] {
        try dump(
            UInt16(RTM_GETRULE), family: Int32(family.addressFamily), headerSize: MemoryLayout<rtmsg>.size, what: "rules"
        ) { reply in
            reply.pointee.nlmsg_type == UInt16(RTM_NEWRULE) ? Self.parseRule(reply) : nil
        }
    }

    /// Reads a rule message (struct fib_rule_hdr, which has rtmsg's layout, then FRA_* attributes); nil for a rule
    /// that is not "[iif DEVICE] [oif DEVICE] lookup TABLE", and for a malformed message (shorter than the header,
    /// a value of the wrong size, a device name without its NUL).
    static func parseRule(_ header: UnsafePointer<nlmsghdr>) -> RoutingRule? {
        let view = NetlinkMessageView(header: header)
        guard let message = view.familyHeader(rtmsg.self) else { return nil }
        // fib_rule_hdr: rtm_dst_len is dst_len, rtm_src_len src_len, rtm_tos tos, rtm_type action, rtm_flags flags.
        guard let family = IPFamily(addressFamily: message.rtm_family), message.rtm_type == 1,  // FR_ACT_TO_TBL
            message.rtm_dst_len == 0, message.rtm_src_len == 0, message.rtm_tos == 0,
            message.rtm_flags & UInt32(FIB_RULE_INVERT) == 0
        else { return nil }
        var priority: UInt32 = 0  // the kernel leaves FRA_PRIORITY out for priority 0
        var outputDevice: String?
        var table = UInt32(message.rtm_table)
        var device: String?
        var proto: UInt8 = 0
        var expressible = true
        var malformed = false
        view.forEachAttribute(headerSize: MemoryLayout<rtmsg>.size) { attribute in
            // A known attribute of the wrong size: the rule is not read (so never deleted as one of Tandem's).
            switch Int32(attribute.type) {
            case Int32(FRA_PRIORITY): priority = attribute.u32.marking(&malformed) ?? priority
            case Int32(FRA_TABLE): table = attribute.u32.marking(&malformed) ?? table
            case Int32(FRA_IIFNAME): device = attribute.string.marking(&malformed)
            case Int32(FRA_PROTOCOL): proto = attribute.u8.marking(&malformed) ?? proto
            case Int32(FRA_FWMARK), Int32(FRA_FWMASK):
                expressible = expressible && attribute.u32 == 0
            // The kernel always sends the suppressor; -1 means none.
            case Int32(FRA_SUPPRESS_PREFIXLEN), Int32(FRA_SUPPRESS_IFGROUP):
                expressible = expressible && attribute.u32 == UInt32.max
            case Int32(FRA_OIFNAME): outputDevice = attribute.string.marking(&malformed)
            case Int32(FRA_GOTO), Int32(FRA_FLOW), Int32(FRA_TUN_ID), Int32(FRA_L3MDEV),
                Int32(FRA_UID_RANGE), Int32(FRA_IP_PROTO), Int32(FRA_SPORT_RANGE), Int32(FRA_DPORT_RANGE):
                expressible = false
            // Selectors newer than these headers (DSCP, flow label, port masks: Linux 6.13 on) are put only when set.
            case let type where type > Int32(FRA_DPORT_RANGE): expressible = false
            default: break
            }
        }
        guard expressible, !malformed else { return nil }
        return RoutingRule(
            family: family, priority: priority, inputDevice: device, outputDevice: outputDevice, table: table,
            protocol: proto)
    }
}
