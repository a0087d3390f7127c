// Learning routes a routing daemon (BIRD, FRR) puts in the kernel: a netlink socket subscribed to the route
// notification groups, which reports each route added to or removed from a table by a chosen protocol.

import CMnl
import CTandemLinux
import TandemPacket

#if canImport(Glibc)
import Glibc
#endif

/// A route the kernel announced or withdrew.
public enum RouteNotification: Hashable, Sendable {
    case added(KernelRoute)
    case removed(KernelRoute)
}

/// Route notifications of the namespace of the thread that made it (RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE).
///
/// Non-blocking: ``read(table:protocols:atMost:)`` returns what has arrived (an empty list when nothing has), so the
/// event loop polls ``descriptor`` for readability. If the kernel dropped notifications because the socket's
/// queue was full, `read` throws ENOBUFS: the caller must then dump the table and reconcile.
public final class RouteMonitor {
    private let socket: OpaquePointer
    private let buffer: UnsafeMutableRawPointer
    /// The kernel's drop counter when drops were last reported (or at the start).
    private var reportedDrops: UInt32 = 0
    static let bufferSize = 1 << 20

    /// The socket's receive buffer by default: room for tens of thousands of notifications.
    public static let defaultReceiveBuffer: Int32 = 32 << 20

    /// Opens the socket and joins the IPv4 and IPv6 route groups.
    ///
    /// - Parameter receiveBuffer: The socket's receive buffer (SO_RCVBUFFORCE), bytes; tests make it small to
    ///   make it overflow.
    /// The corresponding C calls are `mnl_socket_open`, `mnl_socket_bind` and `setsockopt(NETLINK_ADD_MEMBERSHIP)`.
    public init(receiveBuffer: Int32 = defaultReceiveBuffer) throws(SystemError) {
        guard let socket = mnl_socket_open(NETLINK_ROUTE) else {
            throw SystemError(code: errno, operation: "opening a route notification socket")
        }
        self.socket = socket
        buffer = .allocate(byteCount: Self.bufferSize, alignment: 16)
        let groups: [UInt32] = [UInt32(RTNLGRP_IPV4_ROUTE.rawValue), UInt32(RTNLGRP_IPV6_ROUTE.rawValue)]
        do {
            _ = try valueOrErrno("binding a route notification socket") {
                mnl_socket_bind(socket, 0, pid_t(MNL_SOCKET_AUTOPID))
            }
            for var group in groups {
                _ = try valueOrErrno("joining route notification group \(group)") {
                    setsockopt(
                        mnl_socket_get_fd(socket), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group,
                        socklen_t(MemoryLayout<UInt32>.size))
                }
            }
            var size = receiveBuffer
            _ = setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
            let fd = mnl_socket_get_fd(socket)
            _ = try valueOrErrno("making the route notification socket non-blocking") {
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
        } catch {
            mnl_socket_close(socket)
            buffer.deallocate()
            throw error
        }
    }

    deinit {
        mnl_socket_close(socket)
        buffer.deallocate()
    }

    /// Lets the kernel queue only notifications about routes of `table` with one of `protocols` (at most 16): a
    /// million route changes elsewhere (Tandem's own table, a nexthop group replaced in kernel mode) then cannot
    /// fill the socket's queue. ``read(table:protocols:atMost:)`` still checks each message (a table above 255 is only
    /// filtered to "above 255" here).
    /// The corresponding C call is `setsockopt(SO_ATTACH_FILTER)` with a classic BPF program.
    public func filter(table: UInt32, protocols: [UInt8]) throws(SystemError) {
        let descriptor = self.descriptor
        _ = try valueOrErrno("filtering route notifications to table \(table), protocols \(protocols)") {
            protocols.withUnsafeBufferPointer {
                CTandemLinux_filterRouteNotifications(descriptor, table, $0.baseAddress, Int32($0.count))
            }
        }
    }

    /// How many notifications the kernel dropped since this was last asked (SO_MEMINFO's drop counter).
    private func dropsSinceLastRead() throws(SystemError) -> UInt32 {
        var drops: UInt32 = 0
        _ = try valueOrErrno("reading the route notification socket's drop count") {
            CTandemLinux_socketDrops(descriptor, &drops)
        }
        defer { reportedDrops = drops }
        return drops &- reportedDrops
    }

    /// The socket's descriptor, for epoll.
    public var descriptor: Int32 { mnl_socket_get_fd(socket) }

    /// The notifications that have arrived about routes of `table` whose protocol is one of `protocols`: all of
    /// them, or the first `maximum` or a few more (a datagram is read whole) so that a routing daemon loading a full
    /// table never holds the caller for long; the rest stays queued, and the socket readable.
    ///
    /// - Throws: ``SystemError`` with ENOBUFS when the kernel dropped notifications since the last read: its
    ///   socket error (which it sets once per congestion: while the queue never empties, later drops are silent),
    ///   or its drop counter grown (which counts them all). The caller must then dump the table and reconcile.
    public func read(table: UInt32, protocols: Set<UInt8>, atMost maximum: Int = .max) throws(SystemError)
        -> [RouteNotification]
    {
        if try dropsSinceLastRead() > 0 {
            // Reported now: the socket's pending ENOBUFS (if this congestion set one) would report them again.
            var pending: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &pending, &length)
            throw SystemError(code: ENOBUFS, operation: "reading route notifications (the kernel dropped some)")
        }
        var notifications: [RouteNotification] = []
        while notifications.count < maximum {
            let received = mnl_socket_recvfrom(socket, buffer, Self.bufferSize)
            if received < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK { return notifications }
                // The drops this error reports are reported: the counter starts again from here.
                if code == ENOBUFS { _ = try? dropsSinceLastRead() }
                throw SystemError(code: code, operation: "reading route notifications")
            }
            NetlinkDatagram.forEachMessage(in: UnsafeRawBufferPointer(start: buffer, count: received)) { message in
                let type = Int32(message.pointee.nlmsg_type)
                if type == Int32(RTM_NEWROUTE) || type == Int32(RTM_DELROUTE), let route = RouteNetlink.parse(message),
                    route.table == table, protocols.contains(route.protocol)
                {
                    notifications.append(type == Int32(RTM_NEWROUTE) ? .added(route) : .removed(route))
                }
                return true
            }
        }
        return notifications
    }
}
