// The HTTP side of the metrics: a tiny HTTP/1.1 responder for `GET /metrics` on a loopback TCP listener, served by
// the daemon's control-thread event loop. Everything is non-blocking: a request is read as it arrives, the answer
// is written as the socket takes it, and one connection answers one request, then closes. Bounded: at most
// ``MetricsServer/maximumConnections`` at once, requests up to 8 KiB, and a connection idle for 1 s is dropped.

import TandemConfig
import TandemLinux

#if canImport(Glibc)
import Glibc
#endif

/// A non-blocking HTTP/1.1 responder for Prometheus scrapes, driven by an ``EventPoll``.
///
/// Used by one thread (the one that waits on the poll). `GET /metrics` (or `HEAD`) answers 200 with what
/// `render` returns, as `text/plain; version=0.0.4`; any other path answers 404, another method 405, a request
/// that is not HTTP 400.
public final class MetricsServer {
    /// The largest request (line and headers) read; a longer one is dropped.
    public static let maximumRequest = 8 * 1024
    /// How long a connection may stay without progress.
    public static let idleTimeout: Duration = .seconds(1)
    /// Connections served at once; more are closed as soon as they are accepted.
    public static let maximumConnections = 16

    private struct Connection {
        var request: [UInt8] = []
        /// The answer, once the request is complete, and how much of it is written.
        var response: [UInt8]?
        var written = 0
        var deadline: UInt64
    }

    /// The listening socket.
    public let descriptor: CInt
    /// The port bound (the configured one, or the one the kernel chose for port 0).
    public let port: UInt16
    private var poll: EventPoll?
    private let render: () -> [UInt8]
    private var connections: [CInt: Connection] = [:]

    /// Listens on `address`:`port`; ``attach(to:)`` then serves it from an event poll.
    ///
    /// The corresponding C functions are `socket`, `setsockopt` (SO_REUSEADDR), `bind`, `listen`; connections
    /// are taken with `accept`, read with `recv` and written with `send`.
    ///
    /// - Parameters:
    ///   - address: A loopback address (the configuration checks that).
    ///   - port: The TCP port; 0 lets the kernel choose (tests).
    ///   - render: Makes the body of `GET /metrics`, on the poll's thread.
    /// - Throws: ``SystemError`` ("listening for metrics on 127.0.0.1:9464: Address already in use").
    public init(address: AnyIPAddress, port: UInt16, render: @escaping () -> [UInt8])
        throws(SystemError)
    {
        let shown = address.family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
        let operation = "listening for metrics on \(shown)"
        let family = address.family == .ipv6 ? AF_INET6 : AF_INET
        let socketType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let descriptor = socket(family, socketType, 0)
        guard descriptor >= 0 else { throw SystemError(code: errno, operation: operation) }
        var one: CInt = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        var boundPort: UInt16 = 0
        let status = Self.withSocketAddress(address, port) { pointer, length in
            guard bind(descriptor, pointer, length) == 0, listen(descriptor, 16) == 0 else { return errno }
            var storage = sockaddr_storage()
            var size = socklen_t(MemoryLayout<sockaddr_storage>.size)
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(descriptor, $0, &size) }
            }
            // sin_port and sin6_port are at the same place, in network byte order.
            boundPort = withUnsafeBytes(of: storage) {
                UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            }
            return 0
        }
        if status != 0 {
            close(descriptor)
            throw SystemError(code: status, operation: operation)
        }
        self.descriptor = descriptor
        self.port = boundPort
        self.render = render
    }

    deinit {
        for descriptor in connections.keys { close(descriptor) }
        try? poll?.remove(descriptor)
        close(descriptor)
    }

    /// Serves from `poll` (the control thread's): adds the listener to it.
    ///
    /// - Throws: ``SystemError`` from `epoll_ctl`.
    public func attach(to poll: EventPoll) throws(SystemError) {
        try poll.add(descriptor)
        self.poll = poll
    }

    /// How many connections are open.
    public var openConnections: Int { connections.count }

    /// Handles a ready descriptor if it is the listener or one of its connections.
    ///
    /// - Returns: Whether `descriptor` was this server's.
    @discardableResult
    public func handle(_ descriptor: CInt, events: EventPoll.Events) -> Bool {
        if descriptor == self.descriptor {
            acceptAll()
            return true
        }
        guard connections[descriptor] != nil else { return false }
        if connections[descriptor]?.response == nil {
            read(descriptor)
        } else {
            write(descriptor)
        }
        return true
    }

    /// Drops the connections idle for longer than ``idleTimeout``; call it after each wait.
    public func dropIdle() {
        let now = Self.now()
        for (descriptor, connection) in connections where connection.deadline <= now { drop(descriptor) }
    }

    /// How long the poll may wait before ``dropIdle()`` has something to do, at most `limit` ms.
    public func timeout(atMost limit: Int32) -> Int32 {
        guard let next = connections.values.map(\.deadline).min() else { return limit }
        let now = Self.now()
        guard next > now else { return 0 }
        return Int32(min(UInt64(limit), (next - now + 999_999) / 1_000_000))
    }

    // MARK: Connections

    private func acceptAll() {
        while true {
            // accept4 is behind _GNU_SOURCE: accept, then non-blocking and close-on-exec with fcntl.
            let connection = accept(descriptor, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // EAGAIN: no more; anything else: try again at the next readiness
            }
            _ = fcntl(connection, F_SETFL, fcntl(connection, F_GETFL, 0) | O_NONBLOCK)
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            guard connections.count < Self.maximumConnections, let poll, (try? poll.add(connection)) != nil else {
                close(connection)
                continue
            }
            connections[connection] = Connection(deadline: Self.deadline())
        }
    }

    private func read(_ descriptor: CInt) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                return drop(descriptor)
            }
            if count == 0 { return drop(descriptor) }  // closed before a whole request
            var connection = connections[descriptor]!
            connection.request += buffer[..<count]
            connection.deadline = Self.deadline()
            if let end = Self.headerEnd(connection.request) {
                connection.response = respond(to: Array(connection.request[..<end]))
                connections[descriptor] = connection
                // Wait for room to write from now on (the first write is tried right away).
                try? poll?.remove(descriptor)
                guard (try? poll?.add(descriptor, for: .writable)) != nil else { return drop(descriptor) }
                return write(descriptor)
            }
            guard connection.request.count <= Self.maximumRequest else { return drop(descriptor) }
            connections[descriptor] = connection
        }
    }

    private func write(_ descriptor: CInt) {
        guard var connection = connections[descriptor], let response = connection.response else { return }
        while connection.written < response.count {
            let offset = connection.written
            let count = response.withUnsafeBytes {
                send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    connections[descriptor] = connection
                    return
                }
                return drop(descriptor)
            }
            connection.written += count
            connection.deadline = Self.deadline()
        }
        // All written: one request per connection.
        shutdown(descriptor, Int32(SHUT_WR))
        drop(descriptor)
    }

    private func drop(_ descriptor: CInt) {
        try? poll?.remove(descriptor)
        close(descriptor)
        connections[descriptor] = nil
    }

    // MARK: HTTP

    /// The end of the request's headers (after the empty line), if it has arrived.
    static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else {
            // A bare "\n\n" end is accepted too (RFC 9112 lets a recipient take LF for CRLF).
            return bytes.count >= 2 && bytes.suffix(2) == [10, 10] ? bytes.count : nil
        }
        for index in 0...(bytes.count - 2) {
            if bytes[index] == 10 && bytes[index + 1] == 10 { return index + 2 }
            if index + 3 < bytes.count, bytes[index...(index + 3)].elementsEqual([13, 10, 13, 10]) {
                return index + 4
            }
        }
        return nil
    }

    /// The whole answer to a request (its line and headers).
    func respond(to request: [UInt8]) -> [UInt8] {
        let lineEnd = request.firstIndex(of: 10) ?? request.count
        let line = String(decoding: request[..<lineEnd], as: UTF8.self)
        let parts = line.split(separator: " ", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            return Self.response(status: "400 Bad Request", body: Array("bad request\n".utf8))
        }
        let method = parts[0]
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard path == "/metrics" else {
            return Self.response(status: "404 Not Found", body: Array("not found: try /metrics\n".utf8))
        }
        guard method == "GET" || method == "HEAD" else {
            return Self.response(
                status: "405 Method Not Allowed", body: Array("only GET\n".utf8), extra: "Allow: GET, HEAD\r\n")
        }
        return Self.response(
            status: "200 OK", body: render(), contentType: "text/plain; version=0.0.4; charset=utf-8",
            headOnly: method == "HEAD")
    }

    static func response(
        status: String, body: [UInt8], contentType: String = "text/plain; charset=utf-8", extra: String = "",
        headOnly: Bool = false
    ) -> [UInt8] {
        let head =
            "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
            + extra + "Connection: close\r\n\r\n"
        return Array(head.utf8) + (headOnly ? [] : body)
    }

    // MARK: Support

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func deadline() -> UInt64 {
        let (seconds, attoseconds) = idleTimeout.components
        return now() + UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }

    /// Calls `body` with the C socket address of `address`:`port`.
    static func withSocketAddress<R>(
        _ address: AnyIPAddress, _ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
    ) -> R {
        switch address {
        case .v4(let v4):
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = port.bigEndian
            socketAddress.sin_addr.s_addr = v4.rawValue.bigEndian
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(let v6):
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { bytes in
                let value = v6.rawValue
                for index in 0..<16 { bytes[index] = UInt8(truncatingIfNeeded: value >> (8 * (15 - index))) }
            }
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }
}
