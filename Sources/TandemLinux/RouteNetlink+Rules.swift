// Policy-routing rules over rtnetlink: each egress device's traffic into its own table, the probes' sockets into
// their tunnel's table, every packet into Tandem's table, and (kernel mode) each policy route set's selectors
// (source, destination, IP protocol, destination ports) into the set's table.

import CMnl
import TandemPacket

#if canImport(Glibc)
import Glibc
#endif

/// A policy-routing rule: packets that came in on `inputDevice`, or sockets bound to `outputDevice`, and that match
/// the source, destination, protocol and destination ports given (or all packets), are looked up in `table`.
public struct RoutingRule: Hashable, Sendable, CustomStringConvertible {
    public var family: IPFamily
    public var priority: UInt32
    /// The input device's name (FRA_IIFNAME); nil selects every packet.
    public var inputDevice: String?
    /// The output device's name (FRA_OIFNAME): selects locally made packets of sockets bound to it
    /// (SO_BINDTODEVICE), such as a tunnel's health probes; nil selects every packet.
    public var outputDevice: String?
    /// The source prefix (FRA_SRC and the header's src_len), of the rule's family; nil is `from all`.
    public var source: RoutePrefix?
    /// The destination prefix (FRA_DST and dst_len), of the rule's family; nil is `to all`.
    public var destination: RoutePrefix?
    /// The IP protocol (FRA_IP_PROTO, Linux 4.17); nil is any.
    public var ipProtocol: UInt8?
    /// The destination ports, inclusive (FRA_DPORT_RANGE, Linux 4.17; TCP, UDP, SCTP only); nil is any.
    public var destinationPorts: ClosedRange<UInt16>?
    public var table: UInt32
    /// The FRA_PROTOCOL that marks the rule's owner (Linux 4.17), as rtm_protocol marks a route's; 0 is none.
    public var `protocol`: UInt8

    public init(
        family: IPFamily, priority: UInt32, inputDevice: String?, outputDevice: String? = nil,
        source: RoutePrefix? = nil, destination: RoutePrefix? = nil, ipProtocol: UInt8? = nil,
        destinationPorts: ClosedRange<UInt16>? = nil, table: UInt32, protocol: UInt8 = 0
    ) {
        self.family = family
        self.priority = priority
        self.inputDevice = inputDevice
        self.outputDevice = outputDevice
        self.source = source
        self.destination = destination
        self.ipProtocol = ipProtocol
        self.destinationPorts = destinationPorts
        self.table = table
        self.protocol = `protocol`
    }

    /// "ipv4 rule 1000: iif v1 lookup 150", "ipv6 rule 900: lookup 200 proto 201",
    /// "ipv4 rule 1010: from 198.18.1.0/24 to 198.19.0.0/16 ipproto 17 dport 5000-5001 lookup 204 proto 201".
    public var description: String {
        var selector = (source.map { "from \($0) " } ?? "") + (destination.map { "to \($0) " } ?? "")
        selector += (ipProtocol.map { "ipproto \($0) " } ?? "")
        selector += destinationPorts.map { "dport \($0.lowerBound)-\($0.upperBound) " } ?? ""
        selector += (inputDevice.map { "iif \($0) " } ?? "") + (outputDevice.map { "oif \($0) " } ?? "")
        let owner = self.protocol == 0 ? "" : " proto \(self.protocol)"
        return "\(family == .ipv4 ? "ipv4" : "ipv6") rule \(priority): \(selector)lookup \(table)\(owner)"
    }
}

extension RouteNetlink {
    /// Adds (or removes) policy-routing rules (RTM_NEWRULE, RTM_DELRULE); returns the refusals.
    public func apply(rules: [RoutingRule], remove: Bool = false) throws(SystemError) -> [SystemError] {
        try refusals(applying: rules, remove: remove).map(\.error)
    }

    /// ``apply(rules:remove:)``, each refusal with the position of its rule in `rules`.
    public func refusals(applying rules: [RoutingRule], remove: Bool = false) throws(SystemError) -> [Refusal] {
        try performReportingIndices(
            count: rules.count, what: "rules",
            operation: { "\(remove ? "removing" : "adding") \(rules[$0])" },
            write: { index, sequence, header in Self.put(rules[index], remove: remove, sequence: sequence, into: header) })
    }

    /// Writes one RTM_NEWRULE or RTM_DELRULE message, with an ACK requested. (Internal: the tests read what it writes
    /// back with ``parseRule(_:)``.)
    static func put(_ rule: RoutingRule, remove: Bool, sequence: UInt32, into header: UnsafeMutablePointer<nlmsghdr>) {
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
        message.pointee.rtm_src_len = UInt8(rule.source?.length ?? 0)
        message.pointee.rtm_dst_len = UInt8(rule.destination?.length ?? 0)
        mnl_attr_put_u32(header, UInt16(FRA_PRIORITY), rule.priority)
        mnl_attr_put_u32(header, UInt16(FRA_TABLE), rule.table)
        // The kernel takes a prefix as its address and the header's length: `from 0.0.0.0/0` is `from all`.
        if let source = rule.source, source.length > 0 {
            putAddress(source.ruleAddress, type: UInt16(FRA_SRC), into: header)
        }
        if let destination = rule.destination, destination.length > 0 {
            putAddress(destination.ruleAddress, type: UInt16(FRA_DST), into: header)
        }
        if let proto = rule.ipProtocol { mnl_attr_put_u8(header, UInt16(FRA_IP_PROTO), proto) }
        if let ports = rule.destinationPorts {
            // struct fib_rule_port_range: start, end, host byte order.
            var range = fib_rule_port_range(start: ports.lowerBound, end: ports.upperBound)
            mnl_attr_put(header, UInt16(FRA_DPORT_RANGE), MemoryLayout<fib_rule_port_range>.size, &range)
        }
        if let device = rule.outputDevice {
            device.withCString { name in mnl_attr_put_strz(header, UInt16(FRA_OIFNAME), name) }
        }
        if let device = rule.inputDevice {
            device.withCString { name in mnl_attr_put_strz(header, UInt16(FRA_IIFNAME), name) }
        }
        // Only when set: a kernel before 4.17 does not know the attribute, and 0 is the kernel's default.
        if rule.protocol != 0 { mnl_attr_put_u8(header, UInt16(FRA_PROTOCOL), rule.protocol) }
    }

    /// The rules of one family that look packets up in a table, from a dump (RTM_GETRULE with NLM_F_DUMP), in the
    /// kernel's order (by priority). Rules with a selector or an action ``RoutingRule`` cannot express (fwmark, TOS,
    /// source ports, goto, unreachable, an inverted match, ...) are left out, so that a caller that deletes what it
    /// reads deletes only rules of this shape.
    public func rules(family: IPFamily) throws(SystemError) -> [RoutingRule] {
        try dump(
            UInt16(RTM_GETRULE), family: Int32(family.addressFamily), headerSize: MemoryLayout<rtmsg>.size, what: "rules"
        ) { reply in
            reply.pointee.nlmsg_type == UInt16(RTM_NEWRULE) ? Self.parseRule(reply) : nil
        }
    }

    /// FRA_DPORT_MASK (Linux 6.13), newer than the headers this builds with.
    static let destinationPortMask: Int32 = 29

    /// Reads a rule message (struct fib_rule_hdr, which has rtmsg's layout, then FRA_* attributes); nil for a rule
    /// that is not "[from PREFIX] [to PREFIX] [ipproto P] [dport A-B] [iif DEVICE] [oif DEVICE] lookup TABLE", and
    /// for a malformed message (shorter than the header, a value of the wrong size, an address not of the rule's
    /// family, a prefix length beyond it or without its address, a device name without its NUL, a port range whose
    /// start is above its end).
    static func parseRule(_ header: UnsafePointer<nlmsghdr>) -> RoutingRule? {
        let view = NetlinkMessageView(header: header)
        guard let message = view.familyHeader(rtmsg.self) else { return nil }
        // fib_rule_hdr: rtm_dst_len is dst_len, rtm_src_len src_len, rtm_tos tos, rtm_type action, rtm_flags flags.
        guard let family = IPFamily(addressFamily: message.rtm_family), message.rtm_type == 1,  // FR_ACT_TO_TBL
            Int(message.rtm_dst_len) <= family.addressBits, Int(message.rtm_src_len) <= family.addressBits,
            message.rtm_tos == 0, message.rtm_flags & UInt32(FIB_RULE_INVERT) == 0
        else { return nil }
        var priority: UInt32 = 0  // the kernel leaves FRA_PRIORITY out for priority 0
        var outputDevice: String?
        var table = UInt32(message.rtm_table)
        var device: String?
        var proto: UInt8 = 0
        var sourceAddress: AnyIPAddress?
        var destinationAddress: AnyIPAddress?
        var ipProtocol: UInt8?
        var ports: fib_rule_port_range?
        var expressible = true
        var malformed = false
        view.forEachAttribute(headerSize: MemoryLayout<rtmsg>.size) { attribute in
            // A known attribute of the wrong size: the rule is not read (so never deleted as one of Tandem's).
            switch Int32(attribute.type) {
            case Int32(FRA_PRIORITY): priority = attribute.u32.marking(&malformed) ?? priority
            case Int32(FRA_TABLE): table = attribute.u32.marking(&malformed) ?? table
            case Int32(FRA_IIFNAME): device = attribute.string.marking(&malformed)
            case Int32(FRA_PROTOCOL): proto = attribute.u8.marking(&malformed) ?? proto
            case Int32(FRA_SRC): sourceAddress = attribute.address(of: family).marking(&malformed)
            case Int32(FRA_DST): destinationAddress = attribute.address(of: family).marking(&malformed)
            case Int32(FRA_IP_PROTO): ipProtocol = attribute.u8.marking(&malformed)
            case Int32(FRA_DPORT_RANGE): ports = attribute.portRange.marking(&malformed)
            case Int32(FRA_FWMARK), Int32(FRA_FWMASK):
                expressible = expressible && attribute.u32 == 0
            // The kernel always sends the suppressor; -1 means none.
            case Int32(FRA_SUPPRESS_PREFIXLEN), Int32(FRA_SUPPRESS_IFGROUP):
                expressible = expressible && attribute.u32 == UInt32.max
            case Int32(FRA_OIFNAME): outputDevice = attribute.string.marking(&malformed)
            case Int32(FRA_GOTO), Int32(FRA_FLOW), Int32(FRA_TUN_ID), Int32(FRA_L3MDEV),
                Int32(FRA_UID_RANGE), Int32(FRA_SPORT_RANGE):
                expressible = false
            // Linux 6.13 on masks a single destination port with 0xffff by itself: that is the port alone.
            case Self.destinationPortMask: expressible = expressible && attribute.u16 == UInt16.max
            // Other selectors newer than these headers (DSCP, flow label, port masks) are put only when set.
            case let type where type > Int32(FRA_DPORT_RANGE): expressible = false
            default: break
            }
        }
        guard expressible, !malformed else { return nil }
        // A prefix length without its address is malformed; an address with length 0 is `all`.
        guard sourceAddress != nil || message.rtm_src_len == 0, destinationAddress != nil || message.rtm_dst_len == 0
        else { return nil }
        let source = sourceAddress.flatMap { Self.rulePrefix($0, length: message.rtm_src_len) }
        let destination = destinationAddress.flatMap { Self.rulePrefix($0, length: message.rtm_dst_len) }
        var destinationPorts: ClosedRange<UInt16>?
        if let ports {
            guard ports.start <= ports.end else { return nil }
            destinationPorts = ports.start...ports.end
        }
        return RoutingRule(
            family: family, priority: priority, inputDevice: device, outputDevice: outputDevice,
            source: source, destination: destination, ipProtocol: ipProtocol,
            destinationPorts: destinationPorts, table: table, protocol: proto)
    }

    /// A rule's source or destination prefix; nil for length 0 (`all`).
    private static func rulePrefix(_ address: AnyIPAddress, length: UInt8) -> RoutePrefix? {
        guard length > 0 else { return nil }
        return switch address {
        case .v4(let address): .v4(IPv4Prefix(normalizing: address, length: Int(length)))
        case .v6(let address): .v6(IPv6Prefix(normalizing: address, length: Int(length)))
        }
    }
}

extension NetlinkAttribute {
    /// FRA_SPORT_RANGE / FRA_DPORT_RANGE: struct fib_rule_port_range (start, end; host byte order); nil for another
    /// size.
    var portRange: fib_rule_port_range? {
        let bytes = payload
        guard bytes.count == MemoryLayout<fib_rule_port_range>.size else { return nil }
        return bytes.loadUnaligned(as: fib_rule_port_range.self)
    }
}

extension RoutePrefix {
    /// The prefix's address, of either family (a rule's FRA_SRC / FRA_DST).
    fileprivate var ruleAddress: AnyIPAddress {
        switch self {
        case .v4(let prefix): .v4(prefix.address)
        case .v6(let prefix): .v6(prefix.address)
        }
    }
}
