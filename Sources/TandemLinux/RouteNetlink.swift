// Routes in the kernel's FIB over rtnetlink, through libmnl: many messages per send, every ACK checked and
// matched to its message by sequence number, errors with the errno, the operation and the route.

import CMnl
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// A route as the kernel holds it, in one table, marked with a protocol number.
public struct KernelRoute: Hashable, Sendable, CustomStringConvertible {
    /// Where the traffic goes.
    public enum Target: Hashable, Sendable {
        /// Out of a device (its index).
        case device(UInt32)
        /// Dropped silently.
        case blackhole
    }

    public var prefix: RoutePrefix
    public var table: UInt32
    /// The rtm_protocol that marks the route's owner (Tandem's own, or bird = 12, zebra = 11, ...).
    public var `protocol`: UInt8
    public var target: Target

    public init(prefix: RoutePrefix, table: UInt32, protocol: UInt8, target: Target) {
        self.prefix = prefix
        self.table = table
        self.protocol = `protocol`
        self.target = target
    }

    public var description: String {
        switch target {
        case .device(let index): "\(prefix) dev #\(index) table \(table) proto \(self.protocol)"
        case .blackhole: "blackhole \(prefix) table \(table) proto \(self.protocol)"
        }
    }
}

/// One change to make.
public enum RouteChange: Hashable, Sendable {
    /// Adds the route; with `replace`, replaces a route of the same prefix in the table.
    case add(KernelRoute, replace: Bool)
    case delete(KernelRoute)

    var route: KernelRoute {
        switch self {
        case .add(let route, _), .delete(let route): route
        }
    }

    /// "adding route 198.18.4.0/24 table 100".
    var operation: String {
        switch self {
        case .add(let route, let replace): "\(replace ? "replacing" : "adding") route \(route.prefix) table \(route.table)"
        case .delete(let route): "deleting route \(route.prefix) table \(route.table)"
        }
    }
}

/// An rtnetlink socket (NETLINK_ROUTE), in the namespace of the thread that opened it: routes here; links,
/// addresses and rules in RouteNetlink+Links.swift.
public final class RouteNetlink {
    private let socket: OpaquePointer
    private let portID: UInt32
    private var sequence: UInt32
    /// Send and receive space, allocated once.
    private let sendBuffer: UnsafeMutableRawPointer
    private let receiveBuffer: UnsafeMutableRawPointer
    static let sendBufferSize = 1 << 20
    static let receiveBufferSize = 1 << 20
    static let bytesPerSend = 1 << 16
    /// How many changes go out before their ACKs are read, so that the socket's receive queue cannot overflow.
    static let changesPerRound = 4096

    /// Opens and binds the socket, and asks for a receive queue large enough for a full table's ACKs.
    /// The corresponding C calls are `mnl_socket_open`, `mnl_socket_bind` and `setsockopt(SO_RCVBUFFORCE)`.
    public init() throws(SystemError) {
        guard let socket = mnl_socket_open(NETLINK_ROUTE) else {
            throw SystemError(code: errno, operation: "opening an rtnetlink socket")
        }
        self.socket = socket
        if mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID)) < 0 {
            let code = errno
            mnl_socket_close(socket)
            throw SystemError(code: code, operation: "binding an rtnetlink socket")
        }
        portID = mnl_socket_get_portid(socket)
        sequence = UInt32(truncatingIfNeeded: time(nil))
        var size: Int32 = 32 << 20
        // Needs CAP_NET_ADMIN; without it the default queue is used and rounds are small enough anyway.
        _ = setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        // A missing answer must not hang the caller: reads give up after 10 s.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        // Error ACKs without a copy of the failed message: smaller replies.
        _ = setsockopt(mnl_socket_get_fd(socket), SOL_NETLINK, NETLINK_CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        sendBuffer = .allocate(byteCount: Self.sendBufferSize, alignment: 16)
        receiveBuffer = .allocate(byteCount: Self.receiveBufferSize, alignment: 16)
    }

    deinit {
        mnl_socket_close(socket)
        sendBuffer.deallocate()
        receiveBuffer.deallocate()
    }

    /// Applies changes in batches; returns the ones the kernel refused, each with its errno and operation.
    /// Changes are independent: a refused one does not stop the others.
    public func apply(_ changes: [RouteChange]) throws(SystemError) -> [SystemError] {
        try perform(
            count: changes.count, what: "routes", operation: { changes[$0].operation },
            write: { index, sequence, header in self.put(changes[index], sequence: sequence, into: header) })
    }

    /// Sends `count` requests (each written by `write`, each asking for an ACK) in rounds, reads every answer,
    /// and returns the refusals, each named by `operation` of its request.
    func perform(
        count: Int, what: String, operation: (Int) -> String,
        write: (Int, UInt32, UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws(SystemError) -> [SystemError] {
        var failures: [SystemError] = []
        var start = 0
        while start < count {
            let end = min(start + Self.changesPerRound, count)
            try performRound(start..<end, what: what, operation: operation, write: write, failures: &failures)
            start = end
        }
        return failures
    }

    /// Sends one round of requests (as many sendto calls as the buffer needs) and reads every ACK.
    private func performRound(
        _ requests: Range<Int>, what: String, operation: (Int) -> String,
        write: (Int, UInt32, UnsafeMutablePointer<nlmsghdr>) -> Void, failures: inout [SystemError]
    ) throws(SystemError) {
        let first = sequence
        var index = requests.lowerBound
        while index < requests.upperBound {
            // One sendto may not exceed the socket's send buffer (EMSGSIZE): 64 KiB per send is well inside it.
            guard let batch = mnl_nlmsg_batch_start(sendBuffer, Self.bytesPerSend) else {
                throw SystemError(code: ENOMEM, operation: "starting a netlink batch")
            }
            defer { mnl_nlmsg_batch_stop(batch) }
            while index < requests.upperBound {
                let header = mnl_nlmsg_batch_current(batch).assumingMemoryBound(to: nlmsghdr.self)
                header.initialize(to: nlmsghdr())
                header.pointee.nlmsg_len = UInt32(MemoryLayout<nlmsghdr>.size)
                write(index, first &+ UInt32(index - requests.lowerBound), header)
                // False means this message did not fit: it is not in the batch, so it goes first in the next.
                guard mnl_nlmsg_batch_next(batch) else { break }
                index += 1
            }
            let length = mnl_nlmsg_batch_size(batch)
            _ = try valueOrErrno("sending \(what) to the kernel") {
                mnl_socket_sendto(socket, mnl_nlmsg_batch_head(batch), length)
            }
        }
        sequence = first &+ UInt32(requests.count)
        // Every message asked for an ACK: read until each has its answer.
        var answered = 0
        while answered < requests.count {
            let received = try valueOrErrno("reading the kernel's answers about \(what)") {
                mnl_socket_recvfrom(socket, receiveBuffer, Self.receiveBufferSize)
            }
            var message = UnsafeRawPointer(receiveBuffer).assumingMemoryBound(to: nlmsghdr.self)
            var remaining = Int32(received)
            while mnl_nlmsg_ok(message, remaining) {
                if message.pointee.nlmsg_type == UInt16(NLMSG_ERROR), message.pointee.nlmsg_pid == portID {
                    let offset = Int(message.pointee.nlmsg_seq &- first)
                    if offset >= 0 && offset < requests.count {
                        answered += 1
                        let error = mnl_nlmsg_get_payload(message).assumingMemoryBound(to: nlmsgerr.self).pointee.error
                        if error != 0 {
                            failures.append(SystemError(code: -error, operation: operation(requests.lowerBound + offset)))
                        }
                    }
                }
                message = UnsafePointer(mnl_nlmsg_next(message, &remaining))
            }
        }
    }

    /// Writes one RTM_NEWROUTE or RTM_DELROUTE message, with an ACK requested.
    private func put(_ change: RouteChange, sequence: UInt32, into header: UnsafeMutablePointer<nlmsghdr>) {
        let route = change.route
        switch change {
        case .add(_, let replace):
            header.pointee.nlmsg_type = UInt16(RTM_NEWROUTE)
            header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL))
        case .delete:
            header.pointee.nlmsg_type = UInt16(RTM_DELROUTE)
            header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_ACK)
        }
        header.pointee.nlmsg_seq = sequence
        let message = mnl_nlmsg_put_extra_header(header, MemoryLayout<rtmsg>.size).assumingMemoryBound(to: rtmsg.self)
        message.pointee.rtm_dst_len = UInt8(route.prefix.length)
        message.pointee.rtm_table = route.table < 256 ? UInt8(route.table) : UInt8(RT_TABLE_UNSPEC.rawValue)
        message.pointee.rtm_protocol = route.protocol
        // A route out of a device without a gateway has link scope, as `ip route add ... dev D` makes it.
        switch route.target {
        case .device:
            message.pointee.rtm_type = UInt8(RTN_UNICAST)
            message.pointee.rtm_scope = UInt8(RT_SCOPE_LINK.rawValue)
        case .blackhole:
            message.pointee.rtm_type = UInt8(RTN_BLACKHOLE)
            message.pointee.rtm_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
        }
        switch route.prefix {
        case .v4(let prefix):
            message.pointee.rtm_family = UInt8(AF_INET)
            var address = prefix.address.rawValue.bigEndian
            mnl_attr_put(header, UInt16(RTA_DST.rawValue), 4, &address)
        case .v6(let prefix):
            message.pointee.rtm_family = UInt8(AF_INET6)
            var address = prefix.address.rawValue.bigEndian
            mnl_attr_put(header, UInt16(RTA_DST.rawValue), 16, &address)
        }
        mnl_attr_put_u32(header, UInt16(RTA_TABLE.rawValue), route.table)
        if case .device(let index) = route.target { mnl_attr_put_u32(header, UInt16(RTA_OIF.rawValue), index) }
    }

    /// The routes of one table (and protocol, if given), from a dump of the kernel's FIB.
    /// The corresponding request is RTM_GETROUTE with NLM_F_DUMP, once per family.
    public func routes(table: UInt32, protocol proto: UInt8? = nil) throws(SystemError) -> [KernelRoute] {
        var found: [KernelRoute] = []
        for family in [AF_INET, AF_INET6] {
            let header = mnl_nlmsg_put_header(sendBuffer)!
            header.pointee.nlmsg_type = UInt16(RTM_GETROUTE)
            header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | NLM_F_DUMP)
            sequence &+= 1
            header.pointee.nlmsg_seq = sequence
            let message = mnl_nlmsg_put_extra_header(header, MemoryLayout<rtmsg>.size).assumingMemoryBound(to: rtmsg.self)
            message.pointee.rtm_family = UInt8(family)
            _ = try valueOrErrno("asking the kernel for its routes") {
                mnl_socket_sendto(socket, header, Int(header.pointee.nlmsg_len))
            }
            var done = false
            while !done {
                let received = try valueOrErrno("reading the kernel's routes") {
                    mnl_socket_recvfrom(socket, receiveBuffer, Self.receiveBufferSize)
                }
                var reply = UnsafeRawPointer(receiveBuffer).assumingMemoryBound(to: nlmsghdr.self)
                var remaining = Int32(received)
                while mnl_nlmsg_ok(reply, remaining) {
                    if reply.pointee.nlmsg_type == UInt16(NLMSG_DONE) { done = true }
                    if reply.pointee.nlmsg_type == UInt16(NLMSG_ERROR) {
                        let error = mnl_nlmsg_get_payload(reply).assumingMemoryBound(to: nlmsgerr.self).pointee.error
                        throw SystemError(code: -error, operation: "dumping routes")
                    }
                    if reply.pointee.nlmsg_type == UInt16(RTM_NEWROUTE), let route = Self.parse(reply),
                        route.table == table, proto == nil || route.protocol == proto
                    {
                        found.append(route)
                    }
                    reply = UnsafePointer(mnl_nlmsg_next(reply, &remaining))
                }
            }
        }
        return found
    }

    /// Reads a route message: destination, table, protocol, output device or blackhole. Nil for other kinds.
    static func parse(_ header: UnsafePointer<nlmsghdr>) -> KernelRoute? {
        let message = mnl_nlmsg_get_payload(header).assumingMemoryBound(to: rtmsg.self).pointee
        var table = UInt32(message.rtm_table)
        var destination: UnsafeRawPointer?
        var device: UInt32?
        var attribute = mnl_nlmsg_get_payload_offset(header, MemoryLayout<rtmsg>.size)!
            .assumingMemoryBound(to: nlattr.self)
        var remaining = Int32(truncatingIfNeeded: Int(bitPattern: mnl_nlmsg_get_payload_tail(header)) - Int(bitPattern: attribute))
        while mnl_attr_ok(attribute, remaining) {
            switch Int32(mnl_attr_get_type(attribute)) {
            case Int32(RTA_TABLE.rawValue): table = mnl_attr_get_u32(attribute)
            case Int32(RTA_DST.rawValue): destination = UnsafeRawPointer(mnl_attr_get_payload(attribute))
            case Int32(RTA_OIF.rawValue): device = mnl_attr_get_u32(attribute)
            default: break
            }
            remaining -= (Int32(attribute.pointee.nla_len) + 3) & ~3
            attribute = mnl_attr_next(attribute)
        }
        let length = Int(message.rtm_dst_len)
        let prefix: RoutePrefix
        switch Int32(message.rtm_family) {
        case AF_INET:
            let raw = destination.map { UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)) } ?? 0
            prefix = .v4(IPv4Prefix(normalizing: IPv4Address(rawValue: raw), length: length))
        case AF_INET6:
            let raw = destination.map { UInt128(bigEndian: $0.loadUnaligned(as: UInt128.self)) } ?? 0
            prefix = .v6(IPv6Prefix(normalizing: IPv6Address(rawValue: raw), length: length))
        default:
            return nil
        }
        let target: KernelRoute.Target
        switch Int32(message.rtm_type) {
        case Int32(RTN_BLACKHOLE): target = .blackhole
        case Int32(RTN_UNICAST): target = .device(device ?? 0)
        default: return nil
        }
        return KernelRoute(prefix: prefix, table: table, protocol: message.rtm_protocol, target: target)
    }
}
