import Foundation
import Synchronization
import TandemConfig
import TandemControl
import TandemLinux
import TandemPacket
import TandemRouting
import Testing

@testable import TandemDaemon

/// The control socket end to end: a ControlServer on its own EventLoop thread, over a socket in a temp directory,
/// and clients that ask, dawdle or send too much.
@Suite("control socket", .serialized)
struct ControlSocketTests {
    /// Runs a server answering from ShowTests' gateway until `body` returns.
    static func withServer(
        requestTimeout: UInt64 = 1_000_000_000, extraPrefixes: Int = 0, _ body: (String) throws -> Void) throws {
        let directory = NSTemporaryDirectory() + "tandem-control-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/gw.sock"
        let stop = Atomic<Bool>(false)
        let ready = Atomic<Bool>(false)
        let failure = Mutex<String?>(nil)
        let thread = Thread {
            do {
                let view = try ShowTests.view()
                for index in 0..<extraPrefixes {
                    let address = IPv4Address(rawValue: 0x0A00_0000 + UInt32(index) << 8)
                    try view.router.add(
                        Route(prefix: .v4(IPv4Prefix(normalizing: address, length: 24)), source: .static,
                              connection: ConnectionID(1)))
                }
                let server = ControlServer(
                    listener: try UnixListener(path: path, mode: 0o600), requestTimeout: requestTimeout
                ) { view.answer($0) }
                let loop = try EventLoop(capacity: 8, now: { Forwarder.now() })
                try server.register(in: loop)
                ready.store(true, ordering: .sequentiallyConsistent)
                while !stop.load(ordering: .sequentiallyConsistent) {
                    try loop.runOnce(timeoutMilliseconds: 20)
                    for descriptor in loop.registeredDescriptors { #expect(server.owns(descriptor)) }
                }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
            ready.store(true, ordering: .sequentiallyConsistent)
            stop.store(false, ordering: .sequentiallyConsistent)  // acknowledges the stop
        }
        thread.start()
        while !ready.load(ordering: .sequentiallyConsistent) { usleep(1000) }
        defer {
            stop.store(true, ordering: .sequentiallyConsistent)
            while stop.load(ordering: .sequentiallyConsistent) { usleep(1000) }
            #expect(!FileManager.default.fileExists(atPath: path), "the socket outlived its listener")
        }
        if let failure = failure.withLock({ $0 }) { Issue.record("server: \(failure)") }
        try body(path)
    }

    /// Sends `request` (as is) and reads the answer to the end.
    static func ask(_ path: String, _ request: String) throws -> String {
        let connection = try UnixConnection.connect(path: path, timeoutSeconds: 5)
        defer { connection.close() }
        try connection.writeAll(Array(request.utf8))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try buffer.withUnsafeMutableBytes { (bytes) throws(SystemError) -> Int? in
                try connection.read(into: bytes)
            }
            guard let count, count > 0 else { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test func requestAndAnswer() throws {
        try Self.withServer { path in
            var status = stat()
            #expect(stat(path, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o600)
            let connections = try Self.ask(path, "show connections\n")
            #expect(connections.hasPrefix("to-cloud up tunnels a1 active up carrying, a2 standby up\n"))
            let routes = try Self.ask(path, ControlRequest(.routes(prefix: nil, limit: nil), json: true).line + "\n")
            let object = try JSONSerialization.jsonObject(with: Data(routes.utf8)) as? [String: Any]
            #expect(object?["prefixes"] as? Int == 3)
            let lookup = try Self.ask(path, "lookup 198.19.5.1 from 198.18.0.1 proto tcp dport 443\n")
            #expect(lookup.contains("forward route 198.19.5.0/24 specific"))
            #expect(try Self.ask(path, "show nonsense\n").hasPrefix("error: unknown 'show nonsense'"))
        }
    }

    @Test func silentAndOversizedClientsAreDropped() throws {
        try Self.withServer(requestTimeout: 200_000_000) { path in
            // Nothing sent: closed once the request timeout passes, without an answer.
            let silent = try UnixConnection.connect(path: path, timeoutSeconds: 5)
            defer { silent.close() }
            var buffer = [UInt8](repeating: 0, count: 16)
            let start = Forwarder.now()
            let count = try buffer.withUnsafeMutableBytes { (bytes) throws(SystemError) -> Int? in
                try silent.read(into: bytes)
            }
            #expect(count == 0)
            #expect(Forwarder.now() - start >= 150_000_000)
            // More than 4 KiB without a newline: closed without an answer (a reset, as the request was not read).
            do {
                #expect(try Self.ask(path, String(repeating: "x", count: 5000)).isEmpty)
            } catch let error as SystemError {
                #expect(error.code == ECONNRESET)
            }
            // The server still answers after both.
            #expect(try Self.ask(path, "show groups\n").hasPrefix("group 0 live"))
        }
    }

    @Test func aLargeAnswerReachesASlowReader() throws {
        try Self.withServer(extraPrefixes: 20_000) { path in
            // 2 MB or more of routes: more than a socket buffer, so the server must wait for room.
            let connection = try UnixConnection.connect(path: path, timeoutSeconds: 5)
            defer { connection.close() }
            try connection.writeAll(Array("show routes\n".utf8))
            usleep(100_000)
            var lines = 0
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = try buffer.withUnsafeMutableBytes { (bytes) throws(SystemError) -> Int? in
                    try connection.read(into: bytes)
                }
                guard let count, count > 0 else { break }
                lines += buffer[0..<count].count { $0 == UInt8(ascii: "\n") }
            }
            #expect(lines == 20_000 + 6)
        }
    }
}
