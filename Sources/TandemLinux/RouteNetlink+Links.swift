// Links and addresses over the same rtnetlink socket: what `tandem run` needs to bring its TUN devices up and
// address them (policy-routing rules: RouteNetlink+Rules.swift).

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
}
