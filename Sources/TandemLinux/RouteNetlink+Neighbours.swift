// Neighbour entries (ARP, IPv6 neighbour discovery) over the same rtnetlink socket. What Tandem asks of them: that
// each tunnel's next hop stays resolved while no traffic goes its way, so that traffic failing over to a standby
// tunnel does not first wait for neighbour discovery. Without that, the first packet to an idle next hop sends a
// solicitation, and if the solicitation or its answer is lost (a link flooded by the very traffic that fails over)
// the kernel asks again only after RetransTimer, 1 s.
//
// The kernel does it itself for a "managed" entry (NTF_EXT_MANAGED, Linux 5.16): it resolves the entry at once and
// keeps it in NUD_REACHABLE by probing it, as it does for an entry in use. Tandem marks its entries with its route
// protocol (NDA_PROTOCOL), as it marks its routes, so that it removes only its own.

import CMnl
import TandemPacket

#if canImport(Glibc)
import Glibc
#endif

/// A neighbour entry: an address on a device, its state, and who made it.
public struct NeighbourEntry: Hashable, Sendable, CustomStringConvertible {
    /// The neighbour's address and the device it is on: what names an entry.
    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var address: AnyIPAddress
        public var interfaceIndex: UInt32

        public init(address: AnyIPAddress, interfaceIndex: UInt32) {
            self.address = address
            self.interfaceIndex = interfaceIndex
        }

        /// "2001:db8:2::2 dev #4", as `ip neigh` writes it with a device index.
        public var description: String { "\(address) dev #\(interfaceIndex)" }
    }

    /// The NUD_* state bits (ndm_state).
    public struct State: OptionSet, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let incomplete = State(rawValue: UInt16(NUD_INCOMPLETE))
        public static let reachable = State(rawValue: UInt16(NUD_REACHABLE))
        public static let stale = State(rawValue: UInt16(NUD_STALE))
        public static let delay = State(rawValue: UInt16(NUD_DELAY))
        public static let probe = State(rawValue: UInt16(NUD_PROBE))
        public static let failed = State(rawValue: UInt16(NUD_FAILED))
        public static let noARP = State(rawValue: UInt16(NUD_NOARP))
        public static let permanent = State(rawValue: UInt16(NUD_PERMANENT))

        /// "REACHABLE", as `ip neigh` writes it; "NONE" for no bit.
        public var description: String {
            let names: [(State, String)] = [
                (.incomplete, "INCOMPLETE"), (.reachable, "REACHABLE"), (.stale, "STALE"), (.delay, "DELAY"),
                (.probe, "PROBE"), (.failed, "FAILED"), (.noARP, "NOARP"), (.permanent, "PERMANENT"),
            ]
            let set = names.filter { contains($0.0) }.map(\.1)
            return set.isEmpty ? "NONE" : set.joined(separator: ",")
        }
    }

    public var key: Key
    public var state: State
    /// Whether the kernel keeps the entry resolved on its own (NTF_EXT_MANAGED).
    public var managed: Bool
    /// The protocol that made the entry (NDA_PROTOCOL; 0 when none said).
    public var `protocol`: UInt8

    public init(key: Key, state: State, managed: Bool, protocol: UInt8) {
        self.key = key
        self.state = state
        self.managed = managed
        self.protocol = `protocol`
    }

    /// An entry the operator fixed (`nud permanent` or `noarp`): the kernel never resolves it, and Tandem leaves it.
    public var isStatic: Bool { !state.isDisjoint(with: [.permanent, .noARP]) }

    /// Whether it has a link-layer address traffic can use at once.
    public var isResolved: Bool { !state.isDisjoint(with: [.reachable, .stale, .delay, .probe, .permanent, .noARP]) }

    /// "198.18.2.2 dev #4 REACHABLE managed proto 201".
    public var description: String { "\(key) \(state)\(managed ? " managed" : "") proto \(self.protocol)" }
}

/// One change to the neighbour entries.
public enum NeighbourChange: Hashable, Sendable {
    /// Makes the entry managed and marks it with `protocol`, creating it if there is none (RTM_NEWNEIGH, replace).
    /// The kernel keeps an existing entry's state and address: one in use goes on carrying traffic.
    case keepResolved(NeighbourEntry.Key, protocol: UInt8)
    /// Deletes the entry (RTM_DELNEIGH). Traffic still going to the neighbour resolves it again.
    case delete(NeighbourEntry.Key)

    /// "keeping neighbour 198.18.2.2 dev #4 resolved".
    var operation: String {
        switch self {
        case .keepResolved(let key, _): "keeping neighbour \(key) resolved"
        case .delete(let key): "deleting neighbour \(key)"
        }
    }
}

extension RouteNetlink {
    /// Every neighbour entry of both families, from a dump (RTM_GETNEIGH with NLM_F_DUMP); proxy entries left out.
    public func neighbours() throws(SystemError) -> [NeighbourEntry] {
        try dump(UInt16(RTM_GETNEIGH), family: AF_UNSPEC, headerSize: MemoryLayout<ndmsg>.size, what: "neighbours") {
            reply in
            reply.pointee.nlmsg_type == UInt16(RTM_NEWNEIGH) ? Self.parseNeighbour(reply) : nil
        }
    }

    /// Applies the changes in batches; the refusals, each with the position of its change.
    public func refusals(applying changes: [NeighbourChange]) throws(SystemError) -> [Refusal] {
        try performReportingIndices(
            count: changes.count, what: "neighbours", operation: { changes[$0].operation },
            write: { index, sequence, header in Self.put(changes[index], sequence: sequence, into: header) })
    }

    /// Writes one RTM_NEWNEIGH or RTM_DELNEIGH message, with an ACK requested. A managed entry is asked for as
    /// `ip neigh replace ADDRESS dev DEVICE managed` asks: state NUD_NONE, no link-layer address, the flag in
    /// NDA_FLAGS_EXT.
    static func put(_ change: NeighbourChange, sequence: UInt32, into header: UnsafeMutablePointer<nlmsghdr>) {
        header.pointee.nlmsg_seq = sequence
        let message = mnl_nlmsg_put_extra_header(header, MemoryLayout<ndmsg>.size).assumingMemoryBound(to: ndmsg.self)
        let key: NeighbourEntry.Key
        switch change {
        case .keepResolved(let entry, let proto):
            key = entry
            header.pointee.nlmsg_type = UInt16(RTM_NEWNEIGH)
            header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE)
            message.pointee.ndm_state = UInt16(NUD_NONE)
            mnl_attr_put_u32(header, UInt16(NDA_FLAGS_EXT), UInt32(NTF_EXT_MANAGED))
            mnl_attr_put_u8(header, UInt16(NDA_PROTOCOL), proto)
        case .delete(let entry):
            key = entry
            header.pointee.nlmsg_type = UInt16(RTM_DELNEIGH)
            header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK)
        }
        message.pointee.ndm_family = key.address.family.addressFamily
        message.pointee.ndm_ifindex = Int32(bitPattern: key.interfaceIndex)
        putAddress(key.address, type: UInt16(NDA_DST), into: header)
    }

    /// Reads a neighbour message: address, device, state, the managed flag and the protocol. Nil for a proxy
    /// entry, another family's (bridge FDB), and a malformed message (shorter than ndmsg, an address of the wrong
    /// size for its family, flags or protocol of the wrong size).
    static func parseNeighbour(_ header: UnsafePointer<nlmsghdr>) -> NeighbourEntry? {
        let view = NetlinkMessageView(header: header)
        guard let message = view.familyHeader(ndmsg.self), message.ndm_flags & UInt8(NTF_PROXY) == 0,
            let family = IPFamily(addressFamily: message.ndm_family)
        else { return nil }
        var address: AnyIPAddress?
        var extendedFlags: UInt32 = 0
        var proto: UInt8 = 0
        var malformed = false
        view.forEachAttribute(headerSize: MemoryLayout<ndmsg>.size) { attribute in
            switch Int32(attribute.type) {
            case Int32(NDA_DST): address = attribute.address(of: family).marking(&malformed)
            case Int32(NDA_FLAGS_EXT): extendedFlags = attribute.u32.marking(&malformed) ?? 0
            case Int32(NDA_PROTOCOL): proto = attribute.u8.marking(&malformed) ?? 0
            default: break
            }
        }
        guard let address, !malformed, message.ndm_ifindex > 0 else { return nil }
        return NeighbourEntry(
            key: NeighbourEntry.Key(address: address, interfaceIndex: UInt32(message.ndm_ifindex)),
            state: NeighbourEntry.State(rawValue: message.ndm_state), managed: extendedFlags & UInt32(NTF_EXT_MANAGED) != 0, protocol: proto)
    }
}
