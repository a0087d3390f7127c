// Reading what the kernel sends, never trusting a length it did not check for us: every fixed-size value is read
// only when its attribute holds exactly that many bytes, a string only when it ends inside its attribute, a family
// header only when the message is long enough for it. libmnl's `mnl_attr_get_u32` and friends read blindly (their
// `mnl_attr_validate` is a separate call), so the parsers here go through these instead.

import CMnl
import TandemPacket

/// One attribute (struct nlattr, then its payload) inside a message that `mnl_nlmsg_ok` and `mnl_attr_ok` accepted:
/// the header and the payload length are within the message; the payload's contents are not yet checked.
struct NetlinkAttribute {
    let pointer: UnsafePointer<nlattr>

    /// The attribute's type, without the nested and byte-order flags.
    var type: UInt16 { mnl_attr_get_type(pointer) }

    /// The payload's bytes.
    var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(
            start: UnsafeRawPointer(mnl_attr_get_payload(pointer)), count: Int(mnl_attr_get_payload_len(pointer)))
    }

    /// A value of exactly `Value`'s size, in host byte order (as rtnetlink sends u8/u16/u32 attributes); nil for
    /// another length.
    private func fixed<Value: FixedWidthInteger>(_: Value.Type) -> Value? {
        let bytes = payload
        guard bytes.count == MemoryLayout<Value>.size else { return nil }
        return bytes.loadUnaligned(as: Value.self)
    }

    var u8: UInt8? { fixed(UInt8.self) }
    var u16: UInt16? { fixed(UInt16.self) }
    var u32: UInt32? { fixed(UInt32.self) }

    /// A NUL-terminated string that ends inside the payload (IFNAMSIZ names: FRA_IIFNAME, IFLA_IFNAME); nil if the
    /// payload has no NUL, which `mnl_attr_get_str` would read past.
    var string: String? {
        let bytes = payload
        guard let end = bytes.firstIndex(of: 0) else { return nil }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// An address: 4 bytes are IPv4, 16 IPv6 (network byte order); nil for another length.
    var address: AnyIPAddress? { Self.address(payload) }

    /// An address of `family`'s width only (RTA_DST of an AF_INET6 route must hold 16 bytes, not 4).
    func address(of family: IPFamily) -> AnyIPAddress? {
        guard let address, address.family == family else { return nil }
        return address
    }

    /// RTA_VIA's address: struct rtvia is a 2-byte family, then the address.
    var via: AnyIPAddress? {
        let bytes = payload
        guard bytes.count > 2 else { return nil }
        return Self.address(UnsafeRawBufferPointer(rebasing: bytes[2...]))
    }

    static func address(_ bytes: UnsafeRawBufferPointer) -> AnyIPAddress? {
        switch bytes.count {
        case 4: .v4(IPv4Address(rawValue: UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self))))
        case 16: .v6(IPv6Address(rawValue: UInt128(bigEndian: bytes.loadUnaligned(as: UInt128.self))))
        default: nil
        }
    }

    /// Calls `body` with each well-formed attribute in `bytes`; stops at a malformed one (a length below the header
    /// or beyond the end), as `mnl_attr_ok` decides.
    static func forEach(in bytes: UnsafeRawBufferPointer, _ body: (NetlinkAttribute) -> Void) {
        guard let start = bytes.baseAddress else { return }
        var attribute = start.assumingMemoryBound(to: nlattr.self)
        var remaining = Int32(clamping: bytes.count)
        while mnl_attr_ok(attribute, remaining) {
            body(NetlinkAttribute(pointer: attribute))
            remaining -= (Int32(attribute.pointee.nla_len) + 3) & ~3
            attribute = UnsafePointer(mnl_attr_next(attribute))
        }
    }

    /// Calls `body` with each attribute nested in this one.
    func forEachNested(_ body: (NetlinkAttribute) -> Void) { Self.forEach(in: payload, body) }
}

/// The parts of one message that `mnl_nlmsg_ok` accepted (its length is within the datagram and covers nlmsghdr).
struct NetlinkMessageView {
    let header: UnsafePointer<nlmsghdr>

    /// The bytes after nlmsghdr, up to the message's length.
    var payload: UnsafeRawBufferPointer {
        let length = Int(header.pointee.nlmsg_len) - MemoryLayout<nlmsghdr>.size
        return UnsafeRawBufferPointer(start: UnsafeRawPointer(mnl_nlmsg_get_payload(header)), count: max(0, length))
    }

    /// The family header (rtmsg, nhmsg, fib_rule_hdr, ifinfomsg, nlmsgerr), if the message holds all of it.
    func familyHeader<Header>(_: Header.Type) -> Header? {
        let bytes = payload
        guard bytes.count >= MemoryLayout<Header>.size else { return nil }
        return bytes.loadUnaligned(as: Header.self)
    }

    /// Calls `body` with each attribute after a family header of `headerSize` bytes (aligned to 4, as the kernel
    /// lays it out); none if the message is shorter than the header.
    func forEachAttribute(headerSize: Int, _ body: (NetlinkAttribute) -> Void) {
        let bytes = payload
        let offset = (headerSize + 3) & ~3
        guard bytes.count >= offset else { return }
        NetlinkAttribute.forEach(in: UnsafeRawBufferPointer(rebasing: bytes[offset...]), body)
    }

    /// The error code of an NLMSG_ERROR message (0 for an ACK, -errno for a refusal); nil if the message is too
    /// short to hold one.
    var errorCode: Int32? {
        let bytes = payload
        guard bytes.count >= MemoryLayout<Int32>.size else { return nil }
        return bytes.loadUnaligned(as: Int32.self)
    }
}

extension Optional {
    /// The value itself; nil also sets `flag` (a parser's "malformed"), so that one wrong-sized attribute marks
    /// the whole message while the parser reads on.
    func marking(_ flag: inout Bool) -> Wrapped? {
        if self == nil { flag = true }
        return self
    }
}
