// The HTTP side of the metrics: a tiny HTTP/1.1 responder for `GET /metrics` on a loopback TCP listener, served in
// the daemon's control-thread event loop. The protocol only (a request head, its answer); the serving is
// TandemLinux's StreamServer: non-blocking, one request per connection, then close. Bounded: at most
// ``MetricsServer/maximumConnections`` at once, requests up to 8 KiB whole within 1 s of the connection, answers
// taken within 10 s of being ready (more for a large one read at a fair rate).

import TandemConfig
import TandemLinux
import TandemPacket
import TandemRouting

/// A non-blocking HTTP/1.1 responder for Prometheus scrapes, in an ``EventLoop``.
///
/// Used by one thread (the one that runs the loop). `GET /metrics` (or `HEAD`) answers 200 with what
/// `render` returns, as `text/plain; version=0.0.4`; any other path answers 404, another method 405, a request
/// that is not HTTP 400.
public final class MetricsServer {
    /// The largest request (line and headers) read; a longer one is dropped.
    public static let maximumRequest = 8 * 1024
    /// How long a connection has, from its accept, to send its whole request.
    public static let requestTimeout: Duration = .seconds(1)
    /// How long it has, from when its answer is ready, to take it (plus 1 s per 256 KiB it took).
    public static let answerTimeout: Duration = .seconds(10)
    /// Connections served at once; more are closed as soon as they are accepted.
    public static let maximumConnections = 16

    /// The listening socket.
    public let listener: TCPListener
    /// The port bound (the configured one, or the one the kernel chose for port 0).
    public var port: UInt16 { listener.port }
    private let server: StreamServer

    /// Listens on `address`:`port`; ``register(in:)`` then serves it from an event loop.
    ///
    /// The corresponding C functions are `socket`, `setsockopt` (SO_REUSEADDR), `bind`, `listen` (through
    /// ``TCPListener``); connections are taken with `accept`, read with `read` and written with `send`.
    ///
    /// - Parameters:
    ///   - address: A loopback address (the configuration checks that).
    ///   - port: The TCP port; 0 lets the kernel choose (tests).
    ///   - render: Makes the body of `GET /metrics`, on the loop's thread.
    /// - Throws: ``SystemError`` ("listening for metrics on 127.0.0.1:9464: Address already in use").
    public init(address: AnyIPAddress, port: UInt16, render: @escaping () -> [UInt8])
        throws(SystemError)
    {
        do {
            switch address {
            case .v4(let v4): listener = try TCPListener(address: v4, port: port)
            case .v6(let v6): listener = try TCPListener(address: v6, port: port)
            }
        } catch {
            let shown = address.family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
            throw SystemError(code: error.code, operation: "listening for metrics on \(shown)")
        }
        let limits = StreamServer.Limits(
            maximumClients: Self.maximumConnections, maximumRequest: Self.maximumRequest,
            requestTimeout: UInt64(Self.requestTimeout.totalNanoseconds),
            answerTimeout: UInt64(Self.answerTimeout.totalNanoseconds))
        server = StreamServer(
            listener: listener, limits: limits,
            requestStatus: { Self.headerEnd($0).map { .complete(length: $0) } ?? .incomplete },
            answer: { .bytes(Self.respond(to: Array($0), render: render)) })
    }

    /// Serves from `loop` (the control thread's).
    ///
    /// - Parameter onError: Told about failures of the server itself (accepting paused for want of
    ///   descriptors, say).
    /// - Throws: ``SystemError`` from `epoll_ctl`.
    public func register(in loop: EventLoop, onError: ((SystemError) -> Void)? = nil) throws(SystemError) {
        server.onError = onError
        try server.register(in: loop)
    }

    /// How many connections are open.
    public var openConnections: Int { server.clientCount }

    /// What happened to the connections so far.
    public var statistics: StreamServer.Statistics { server.statistics }

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

    /// The whole answer to a request (its line and headers), the body of `GET /metrics` made by `render`.
    static func respond(to request: [UInt8], render: () -> [UInt8]) -> [UInt8] {
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
}
