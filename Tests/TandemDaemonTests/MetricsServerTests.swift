import Glibc
import TandemConfig
import TandemDaemon
import TandemLinux
import TandemPacket
import Testing

/// The metrics endpoint over real sockets on 127.0.0.1 (an ephemeral port), served by an event loop on the test's
/// thread, as the daemon's control thread serves it.
@Suite("metrics HTTP responder", .serialized)
final class MetricsServerTests {
    let loop: EventLoop
    let server: MetricsServer

    init(loop: EventLoop, server: MetricsServer) {
        self.loop = loop
        self.server = server
    }

    convenience init() throws {
        let loop = try EventLoop(capacity: 8)
        let server = try MetricsServer(address: .v4(IPv4Address(127, 0, 0, 1)), port: 0) {
            Array("tandem_up 1\n".utf8)
        }
        try server.register(in: loop)
        self.init(loop: loop, server: server)
    }

    /// A client socket connected to the server, non-blocking.
    func connectClient() throws -> CInt {
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(client >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = server.port.bigEndian
        address.sin_addr.s_addr = IPv4Address(127, 0, 0, 1).rawValue.bigEndian
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(status == 0, "connect: \(errno)")
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL, 0) | O_NONBLOCK)
        return client
    }

    /// Serves while reading the client until the server closes it (or `seconds` pass); returns what was read and
    /// whether the connection was closed.
    func exchange(_ client: CInt, send request: [UInt8], seconds: Double = 3) throws -> (String, closed: Bool) {
        var sent = 0
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let start = MonotonicSeconds.now()
        while MonotonicSeconds.now() - start < seconds {
            if sent < request.count {
                let count = request.withUnsafeBytes { send(client, $0.baseAddress! + sent, $0.count - sent, 0) }
                if count > 0 { sent += count }
            }
            try loop.runOnce(timeoutMilliseconds: 10)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    received += buffer[..<count]
                    continue
                }
                if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                    return (String(decoding: received, as: UTF8.self), true)
                }
                break
            }
        }
        return (String(decoding: received, as: UTF8.self), false)
    }

    enum MonotonicSeconds {
        static func now() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_MONOTONIC, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
    }

    @Test func metrics() throws {
        #expect(server.port != 0)
        let client = try connectClient()
        defer { close(client) }
        let (answer, closed) = try exchange(client, send: Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(closed)
        #expect(
            answer
                == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 12\r\n"
                + "Connection: close\r\n\r\ntandem_up 1\n")
        #expect(server.openConnections == 0)
    }

    @Test func otherRequests() throws {
        let cases: [(String, String)] = [
            ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"),
            ("GET /metricsx HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"),
            ("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n"),
            ("hello\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"),
            ("GET /metrics?name=x HTTP/1.1\n\n", "HTTP/1.1 200 OK\r\n"),
        ]
        for (request, status) in cases {
            let client = try connectClient()
            defer { close(client) }
            let (answer, closed) = try exchange(client, send: Array(request.utf8))
            #expect(closed && answer.hasPrefix(status), "\(request): \(answer)")
        }
        let client = try connectClient()
        defer { close(client) }
        let (head, _) = try exchange(client, send: Array("HEAD /metrics HTTP/1.1\r\n\r\n".utf8))
        #expect(head.hasSuffix("Content-Length: 12\r\nConnection: close\r\n\r\n"), "\(head)")
    }

    /// A request sent in pieces is answered once whole.
    @Test func requestInPieces() throws {
        let client = try connectClient()
        defer { close(client) }
        let (nothing, open) = try exchange(client, send: Array("GET /metr".utf8), seconds: 0.2)
        #expect(nothing.isEmpty && !open)
        let (answer, closed) = try exchange(client, send: Array("ics HTTP/1.1\r\n\r\n".utf8))
        #expect(closed && answer.hasSuffix("tandem_up 1\n"))
    }

    @Test func idleConnectionIsDropped() throws {
        let client = try connectClient()
        defer { close(client) }
        let start = MonotonicSeconds.now()
        let (answer, closed) = try exchange(client, send: [], seconds: 3)
        let elapsed = MonotonicSeconds.now() - start
        #expect(closed && answer.isEmpty)
        #expect(elapsed >= 0.9 && elapsed < 2, "dropped after \(elapsed) s")
        #expect(server.openConnections == 0)
    }

    /// A client that keeps sending a byte every 250 ms is dropped 1 s after it connected: the deadline does not
    /// move with each byte (else 16 such clients would keep every scrape out).
    @Test func aTricklingClientIsDroppedAtItsRequestDeadline() throws {
        let client = try connectClient()
        defer { close(client) }
        let request = Array("GET /metrics HTTP/1.1\r\n\r\n".utf8)
        let start = MonotonicSeconds.now()
        var sent = 0
        var closed = false
        while !closed && MonotonicSeconds.now() - start < 3 {
            let (answer, ended) = try exchange(client, send: [request[sent]], seconds: 0.25)
            #expect(answer.isEmpty)
            sent += 1
            closed = ended
        }
        let elapsed = MonotonicSeconds.now() - start
        #expect(closed && elapsed >= 0.9 && elapsed < 1.6, "closed: \(closed) after \(elapsed) s")
        #expect(sent < request.count)
        #expect(server.statistics.requestTimeouts == 1)
    }

    @Test func oversizedRequestIsDropped() throws {
        let client = try connectClient()
        defer { close(client) }
        let request = Array("GET /metrics HTTP/1.1\r\nX-Filler: ".utf8) + [UInt8](repeating: 65, count: 9000)
        let (answer, closed) = try exchange(client, send: request, seconds: 0.9)
        #expect(closed && answer.isEmpty)
    }

    @Test func tooManyConnections() throws {
        var clients: [CInt] = []
        defer { for client in clients { close(client) } }
        func serve() throws {
            try loop.runOnce(timeoutMilliseconds: 10)
        }
        for _ in 0..<(MetricsServer.maximumConnections + 2) {
            clients.append(try connectClient())
            try serve()
        }
        try serve()
        #expect(server.openConnections == MetricsServer.maximumConnections)
        // The ones over the limit were closed at once: their read ends.
        var buffer = [UInt8](repeating: 0, count: 16)
        let ended = clients.filter { recv($0, &buffer, 16, 0) == 0 }
        #expect(ended.count == 2)
    }
}

/// A large answer goes out in several writes, as the client reads it.
@Suite("metrics HTTP responder, large answer")
struct MetricsServerLargeTests {
    @Test func largeBody() throws {
        let body = (0..<200_000).map { "tandem_line{n=\"\($0)\"} 1\n" }.joined()
        let loop = try EventLoop(capacity: 8)
        let server = try MetricsServer(address: .v4(IPv4Address(127, 0, 0, 1)), port: 0) { Array(body.utf8) }
        try server.register(in: loop)
        let helper = MetricsServerTests(loop: loop, server: server)
        let client = try helper.connectClient()
        defer { close(client) }
        let request = Array("GET /metrics HTTP/1.1\r\n\r\n".utf8)
        let (answer, closed) = try helper.exchange(client, send: request, seconds: 10)
        #expect(closed)
        #expect(answer.hasSuffix(body) && answer.contains("Content-Length: \(body.utf8.count)\r\n"))
    }
}
