// Link notifications (RTNLGRP_LINK): a tunnel's interface that loses its carrier, goes admin down or is deleted is
// a failure the kernel knows at once, long before health-check probes time out. A socket of its own, apart from
// the route notifications, so that a flood of learned routes never delays a link going down.

import CMnl

#if canImport(Glibc)
import Glibc
#endif

/// Link notifications of the namespace of the thread that made it.
///
/// Non-blocking: ``read()`` returns what has arrived, so the event loop polls ``descriptor``. Messages that do not
/// parse are dropped. If the kernel dropped notifications (the queue was full), ``read()`` throws ENOBUFS: the caller
/// then reads every link's state again (``RouteNetlink/links()``).
public final class LinkMonitor {
    private let socket: OpaquePointer
    private let buffer: UnsafeMutableRawPointer
    static let bufferSize = 64 << 10

    /// Opens the socket and joins the link group.
    /// The corresponding C calls are `mnl_socket_open`, `mnl_socket_bind` (with the RTMGRP_LINK group) and `fcntl`.
    public init() throws(SystemError) {
        guard let socket = mnl_socket_open(NETLINK_ROUTE) else {
            throw SystemError(code: errno, operation: "opening a link notification socket")
        }
        self.socket = socket
        buffer = .allocate(byteCount: Self.bufferSize, alignment: 16)
        do {
            _ = try valueOrErrno("binding a link notification socket to the link group") {
                mnl_socket_bind(socket, UInt32(RTMGRP_LINK), pid_t(MNL_SOCKET_AUTOPID))
            }
            let fd = mnl_socket_get_fd(socket)
            _ = try valueOrErrno("making the link notification socket non-blocking") {
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

    /// The socket's descriptor, for epoll.
    public var descriptor: Int32 { mnl_socket_get_fd(socket) }

    /// The link states announced since the last read, in order (a device can appear more than once).
    ///
    /// - Throws: ``SystemError`` with ENOBUFS when the kernel dropped notifications: read every link again.
    public func read() throws(SystemError) -> [LinkState] {
        var states: [LinkState] = []
        while true {
            let received = mnl_socket_recvfrom(socket, buffer, Self.bufferSize)
            if received < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK { return states }
                throw SystemError(code: code, operation: "reading link notifications")
            }
            NetlinkDatagram.forEachMessage(in: UnsafeRawBufferPointer(start: buffer, count: received)) { message in
                if let state = LinkState.parse(message) { states.append(state) }
                return true
            }
        }
    }
}
