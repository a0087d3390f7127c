import Foundation
import Glibc
import TandemLinux
import Testing

/// A unix listener whose accept can be made to fail: the seam for EMFILE.
final class FlakyListener: StreamListener {
    let inner: UnixListener
    /// The errno accept fails with, while set.
    var failure: Int32?
    /// How many times the server called accept.
    var calls = 0

    init(_ inner: UnixListener) { self.inner = inner }

    var listeningDescriptor: FileDescriptor { inner.listeningDescriptor }
    var endpoint: String { inner.endpoint }

    func acceptConnection() throws(SystemError) -> FileDescriptor? {
        calls += 1
        if let failure { throw SystemError(code: failure, operation: "accepting on \(endpoint)") }
        return try inner.acceptConnection()
    }
}

/// A StreamServer of a line protocol (a request ends at its newline) on a unix socket in a temp directory, in a
/// loop whose clock the test moves; clients are non-blocking unix sockets on the test's thread.
final class ServerHarness {
    let directory: String
    let path: String
    let clock = TestClock()
    let loop: EventLoop
    let listener: FlakyListener
    let server: StreamServer
    var errors: [SystemError] = []

    init(limits: StreamServer.Limits, answer: @escaping (ArraySlice<UInt8>) -> StreamServer.Answer) throws {
        directory = NSTemporaryDirectory() + "tandem-stream-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        path = directory + "/server.sock"
        listener = FlakyListener(try UnixListener(path: path, mode: 0o600))
        let clock = clock
        loop = try EventLoop(capacity: 16, now: { clock.nanoseconds })
        server = StreamServer(
            listener: listener, limits: limits,
            requestStatus: { $0.firstIndex(of: 10).map { .complete(length: $0 + 1) } ?? .incomplete },
            answer: answer)
        server.onError = { [unowned self] in errors.append($0) }
        try server.register(in: loop)
    }

    deinit {
        server.deregister()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A client, connected and non-blocking (accepted at the next turn).
    func connect() throws -> FileDescriptor {
        let client = FileDescriptor(rawValue: try UnixConnection.connect(path: path, timeoutSeconds: 5).rawValue)
        try client.setNonBlocking(true)
        return client
    }

    /// Turns of the loop that do not wait.
    func turn(_ count: Int = 1) throws {
        for _ in 0..<count { try loop.runOnce(timeoutMilliseconds: 0) }
    }

    func send(_ client: FileDescriptor, _ text: String) throws {
        let count = try Array(text.utf8).withUnsafeBytes { (bytes) throws(SystemError) in try client.write(bytes) }
        #expect(count == text.utf8.count)
    }

    /// What the client can read now, at most `limit` bytes, and whether its stream ended (or was reset).
    func receive(_ client: FileDescriptor, limit: Int = .max) -> (bytes: [UInt8], ended: Bool) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count < limit {
            let want = min(buffer.count, limit - bytes.count)
            let result = buffer.withUnsafeMutableBytes { all in
                Result { () throws(SystemError) -> Int? in
                    try client.read(into: UnsafeMutableRawBufferPointer(rebasing: all[..<want]))
                }
            }
            switch result {
            case .success(nil): return (bytes, false)
            case .success(0), .failure: return (bytes, true)
            case .success(let count?): bytes += buffer[..<count]
            }
        }
        return (bytes, false)
    }
}

/// Something an answer holds (the router of before a reload, say), to see when it is let go.
final class Held {}

@Suite("stream server", .serialized)
struct StreamServerTests {
    @Test func answersOneRequestAndCloses() throws {
        let harness = try ServerHarness(limits: StreamServer.Limits()) { request in
            .bytes(Array("you said \(String(decoding: request, as: UTF8.self))".utf8))
        }
        let client = try harness.connect()
        defer { try? client.close() }
        try harness.send(client, "hello\nignored")
        try harness.turn(2)
        let (bytes, ended) = harness.receive(client)
        #expect(String(decoding: bytes, as: UTF8.self) == "you said hello\n" && ended)
        #expect(harness.server.clientCount == 0 && harness.server.statistics.answered == 1)
    }

    /// A client that sends a byte a second never completes its request in time: the deadline counts from the
    /// accept and no byte moves it.
    @Test func theRequestDeadlineIsAbsolute() throws {
        let harness = try ServerHarness(limits: StreamServer.Limits(requestTimeout: 3_000_000_000)) { _ in
            .bytes(Array("answer\n".utf8))
        }
        let client = try harness.connect()
        defer { try? client.close() }
        try harness.turn()
        #expect(harness.server.clientCount == 1)
        for second in 0..<3 {
            try harness.send(client, "x")
            try harness.turn()
            harness.clock.advance(milliseconds: 999)
            try harness.turn()
            #expect(harness.server.clientCount == 1, "dropped \(second).999 s after the accept")
            harness.clock.advance(milliseconds: 1)
        }
        // 3 s after the accept, a second after the last byte.
        try harness.send(client, "x")
        try harness.turn()
        #expect(harness.server.clientCount == 0)
        #expect(harness.server.statistics.requestTimeouts == 1)
        let (bytes, ended) = harness.receive(client)
        #expect(bytes.isEmpty && ended)
    }

    /// A reader far below the rate floor is dropped at its answer deadline (ready + timeout + what it took at the
    /// floor rate), not kept as long as it takes a byte now and then; its answer, and what that holds, goes.
    @Test func theAnswerDeadlineStopsASlowReader() throws {
        let rate: UInt64 = 256 * 1024
        let limits = StreamServer.Limits(answerTimeout: 2_000_000_000, minimumAnswerRate: rate, bytesPerTurn: 1 << 20)
        weak var held: Held?
        let harness = try ServerHarness(limits: limits) { _ in
            let holding = Held()
            held = holding
            var left = 64 << 20
            return .parts { buffer in
                _ = holding
                guard left > 0 else { return false }
                buffer += [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
                left -= 64 * 1024
                return true
            }
        }
        let client = try harness.connect()
        defer { try? client.close() }
        try harness.send(client, "everything\n")
        try harness.turn(2)
        #expect(held != nil)
        let ready = harness.clock.nanoseconds
        var received = 0
        var droppedAt: UInt64?
        for _ in 0..<60 {
            harness.clock.advance(milliseconds: 1000)
            received += harness.receive(client, limit: 16 * 1024).bytes.count
            try harness.turn()
            if harness.server.clientCount == 0 {
                droppedAt = harness.clock.nanoseconds
                break
            }
        }
        let dropped = try #require(droppedAt) - ready
        #expect(harness.server.statistics.answerTimeouts == 1 && harness.server.statistics.answered == 0)
        #expect(received < 64 << 20)
        #expect(held == nil, "the dropped client's answer is let go")
        // Not before the answer timeout; not later than the allowance of what it could have taken.
        #expect(dropped >= 2_000_000_000)
        let allowance = UInt64(received + (1 << 20)) * 1_000_000_000 / rate
        #expect(dropped <= 2_000_000_000 + allowance + 1_000_000_000, "dropped \(dropped) ns after the answer")
    }

    /// A large answer read at a fair rate (above the floor) goes out whole, long after the answer timeout.
    @Test func aLargeAnswerReadAtAFairRateGetsTheTimeItNeeds() throws {
        let body = [UInt8](repeating: UInt8(ascii: "b"), count: 4 << 20)
        let limits = StreamServer.Limits(
            answerTimeout: 1_000_000_000, minimumAnswerRate: 64 * 1024, bytesPerTurn: 1 << 20)
        let harness = try ServerHarness(limits: limits) { _ in .bytes(body) }
        let client = try harness.connect()
        defer { try? client.close() }
        try harness.send(client, "everything\n")
        try harness.turn(2)
        let start = harness.clock.nanoseconds
        var received = 0
        var ended = false
        for _ in 0..<400 where !ended {
            harness.clock.advance(milliseconds: 250)
            let part = harness.receive(client, limit: 128 * 1024)
            received += part.bytes.count
            ended = part.ended
            try harness.turn()
        }
        #expect(ended && received == body.count)
        #expect(harness.server.statistics.answered == 1 && harness.server.statistics.answerTimeouts == 0)
        #expect(harness.clock.nanoseconds - start > 1_000_000_000)
    }

    /// One readiness event writes at most `bytesPerTurn` bytes, whole answers and answers in parts alike.
    @Test(arguments: [false, true]) func eachTurnWritesOneSliceAtMost(inParts: Bool) throws {
        let answer = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        let limits = StreamServer.Limits(bytesPerTurn: 1000)
        let harness = try ServerHarness(limits: limits) { _ in
            guard inParts else { return .bytes(answer) }
            var next = 0
            return .parts { buffer in
                guard next < answer.count else { return false }
                buffer += answer[next..<min(answer.count, next + 4096)]
                next += 4096
                return true
            }
        }
        let client = try harness.connect()
        defer { try? client.close() }
        try harness.send(client, "go\n")
        try harness.turn()  // accept
        var received: [UInt8] = []
        var slices: [Int] = []
        for _ in 0..<200 {
            try harness.turn()
            let (bytes, ended) = harness.receive(client)
            if !bytes.isEmpty { slices.append(bytes.count) }
            received += bytes
            if ended { break }
        }
        #expect(received == answer)
        #expect(slices.count == 100 && slices.allSatisfy { $0 == 1000 }, "\(slices)")
    }

    /// An empty part is a slice of work (a sort, say): the server asks for the next part only at the next turn, so
    /// the loop serves everything else in between, however many such parts an answer has.
    @Test func anEmptyPartGivesTheLoopBack() throws {
        var calls = 0
        let harness = try ServerHarness(limits: StreamServer.Limits()) { _ in
            .parts { buffer in
                calls += 1
                if calls <= 3 { return true }  // three slices of work, nothing to write yet
                guard calls == 4 else { return false }
                buffer += Array("done\n".utf8)
                return true
            }
        }
        let client = try harness.connect()
        defer { try? client.close() }
        try harness.send(client, "go\n")
        try harness.turn()  // accept
        var callsAfterEachTurn: [Int] = []
        var received: [UInt8] = []
        for _ in 0..<10 {
            try harness.turn()
            callsAfterEachTurn.append(calls)
            let (bytes, ended) = harness.receive(client)
            received += bytes
            if ended { break }
        }
        #expect(String(decoding: received, as: UTF8.self) == "done\n")
        // The request is read and the first part made in one turn, then one part per turn, then the last two
        // (the text, and the end) in one.
        #expect(callsAfterEachTurn.prefix(3) == [1, 2, 3], "\(callsAfterEachTurn)")
    }

    @Test func clientsOverTheLimitAreClosedAtOnce() throws {
        let harness = try ServerHarness(limits: StreamServer.Limits(maximumClients: 2)) { _ in .bytes([]) }
        let clients = try (0..<3).map { _ in try harness.connect() }
        defer { for client in clients { try? client.close() } }
        try harness.turn()
        #expect(harness.server.clientCount == 2 && harness.server.statistics.refused == 1)
        #expect(harness.receive(clients[2]).ended)
    }

    /// accept failing with EMFILE: the listener leaves the loop (no spinning on its readiness) until a client
    /// leaves, or the back-off passes; one message for the run of failures.
    @Test func acceptBacksOffWhenDescriptorsRunOut() throws {
        let harness = try ServerHarness(limits: StreamServer.Limits(acceptBackoff: 100_000_000)) { _ in
            .bytes(Array("ok\n".utf8))
        }
        let first = try harness.connect()
        defer { try? first.close() }
        try harness.turn()
        #expect(harness.server.clientCount == 1)
        let callsBefore = harness.listener.calls

        harness.listener.failure = EMFILE
        let second = try harness.connect()
        defer { try? second.close() }
        try harness.turn()
        #expect(harness.listener.calls == callsBefore + 1)
        #expect(harness.server.isAcceptPaused && !harness.loop.isRegistered(harness.listener.listeningDescriptor))
        #expect(harness.errors.count == 1)
        #expect(
            harness.errors.first?.description
                == "accepting on \(harness.path) (paused until a client leaves, or 100 ms): Too many open files")
        // The listener is still readable (the second client waits), but the loop no longer asks.
        try harness.turn(5)
        #expect(harness.listener.calls == callsBefore + 1)

        // After the back-off, accept is tried again (and fails again: paused again, no new message).
        harness.clock.advance(milliseconds: 100)
        try harness.turn(2)
        #expect(harness.listener.calls == callsBefore + 2)
        #expect(harness.server.isAcceptPaused && harness.server.statistics.acceptPauses == 2)
        #expect(harness.errors.count == 1)

        // A client that leaves frees a descriptor: accepting resumes at once, without waiting for the back-off.
        harness.listener.failure = nil
        try harness.send(first, "done\n")
        try harness.turn()
        #expect(harness.receive(first).ended)
        #expect(!harness.server.isAcceptPaused)
        try harness.turn()
        #expect(harness.server.clientCount == 1 && harness.server.statistics.accepted == 2)
        try harness.send(second, "me too\n")
        try harness.turn()
        #expect(String(decoding: harness.receive(second).bytes, as: UTF8.self) == "ok\n")
    }
}
