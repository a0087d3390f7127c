// The control socket of `tandem run`, served on the control thread's EventPoll without ever blocking it: accept,
// read one request line, write the answer as the client takes it, close. A client that sends no full line within
// a second, or more than 4 KiB, is dropped; so is one that takes no part of its answer for ten seconds. At most
// `maximumClients` are served at once; more are closed at once.

import TandemLinux

#if canImport(Glibc)
import Glibc
#endif

/// Serves a ``UnixListener`` on an ``EventPoll`` it shares with other descriptors.
final class ControlServer {
    /// A client being served.
    private final class Session {
        let connection: UnixConnection
        var deadline: UInt64
        var request: [UInt8] = []
        var answer: ControlAnswer?
        var output: [UInt8] = []
        var written = 0

        init(_ connection: UnixConnection, deadline: UInt64) {
            self.connection = connection
            self.deadline = deadline
        }
    }

    let listener: UnixListener
    private var sessions: [CInt: Session] = [:]
    /// How long a client may take to send its request, and to take each part of its answer.
    let requestTimeout: UInt64
    let answerTimeout: UInt64
    static let maximumClients = 32
    /// How much of an answer one readiness event writes at most, so that other events are not kept waiting.
    static let bytesPerTurn = 1 << 20
    private let now: () -> UInt64

    /// - Parameters:
    ///   - listener: The listening socket.
    ///   - requestTimeout, answerTimeout: In nanoseconds.
    ///   - now: The monotonic clock, in nanoseconds.
    init(
        listener: UnixListener, requestTimeout: UInt64 = 1_000_000_000, answerTimeout: UInt64 = 10_000_000_000,
        now: @escaping () -> UInt64
    ) {
        self.listener = listener
        self.requestTimeout = requestTimeout
        self.answerTimeout = answerTimeout
        self.now = now
    }

    deinit {
        for session in sessions.values { session.connection.close() }
    }

    /// How many clients are being served.
    var clientCount: Int { sessions.count }

    /// Starts watching the listening socket.
    func register(in poll: EventPoll) throws(SystemError) { try poll.add(listener.descriptor) }

    /// Whether `descriptor` is the listener or one of the clients.
    func owns(_ descriptor: CInt) -> Bool { descriptor == listener.descriptor || sessions[descriptor] != nil }

    /// Handles readiness of one of its descriptors.
    ///
    /// - Parameter answer: Answers a request (runs on the calling thread; must not block).
    func handle(
        _ descriptor: CInt, events: EventPoll.Events, poll: EventPoll, answer: (ControlRequest) -> ControlAnswer
    ) throws(SystemError) {
        if descriptor == listener.descriptor {
            try acceptClients(poll: poll)
            return
        }
        guard let session = sessions[descriptor] else { return }
        if session.answer == nil {
            readRequest(session, poll: poll, answer: answer)
        } else {
            writeAnswer(session, poll: poll)
        }
    }

    /// Drops the clients whose deadline passed.
    func expire(poll: EventPoll) {
        let time = now()
        for session in sessions.values where session.deadline <= time { drop(session, poll: poll) }
    }

    // MARK: Internals

    private func acceptClients(poll: EventPoll) throws(SystemError) {
        while let connection = try listener.accept() {
            guard sessions.count < Self.maximumClients else {
                connection.close()
                continue
            }
            do {
                try poll.add(connection.rawValue)
            } catch {
                connection.close()
                throw error
            }
            sessions[connection.rawValue] = Session(connection, deadline: now() + requestTimeout)
        }
    }

    private func readRequest(_ session: Session, poll: EventPoll, answer: (ControlRequest) -> ControlAnswer) {
        var chunk = [UInt8](repeating: 0, count: ControlRequest.maximumLineLength + 1)
        let count: Int?
        do { count = try chunk.withUnsafeMutableBytes { (buffer) throws(SystemError) in try session.connection.read(into: buffer) } }
        catch {
            drop(session, poll: poll)
            return
        }
        guard let count else { return }
        guard count > 0 else {
            // The client closed before a full line.
            drop(session, poll: poll)
            return
        }
        session.request += chunk[0..<count]
        guard let end = session.request.firstIndex(of: UInt8(ascii: "\n")) else {
            if session.request.count > ControlRequest.maximumLineLength { drop(session, poll: poll) }
            return
        }
        guard end <= ControlRequest.maximumLineLength else {
            drop(session, poll: poll)
            return
        }
        let line = String(decoding: session.request[..<end], as: UTF8.self)
        do {
            session.answer = answer(try ControlRequest(line: line))
        } catch {
            session.answer = .error(error.description)
        }
        session.request = []
        session.deadline = now() + answerTimeout
        // From now on: wait until the client can take more of its answer.
        do {
            try poll.remove(session.connection.rawValue)
            try poll.add(session.connection.rawValue, for: .writable)
        } catch {
            drop(session, poll: poll)
            return
        }
        writeAnswer(session, poll: poll)
    }

    private func writeAnswer(_ session: Session, poll: EventPoll) {
        var budget = Self.bytesPerTurn
        while budget > 0 {
            if session.written == session.output.count {
                session.output.removeAll(keepingCapacity: true)
                session.written = 0
                guard session.answer!.next(into: &session.output) else {
                    // Everything written.
                    drop(session, poll: poll)
                    return
                }
                continue
            }
            let result = session.output.withUnsafeBytes { all in
                Result { () throws(SystemError) -> Int? in
                    try session.connection.write(UnsafeRawBufferPointer(rebasing: all[session.written...]))
                }
            }
            switch result {
            case .success(let written?):
                session.written += written
                budget -= written
                session.deadline = now() + answerTimeout
            case .success(nil):
                return  // Full: wait for the next writable event.
            case .failure:
                drop(session, poll: poll)
                return
            }
        }
    }

    private func drop(_ session: Session, poll: EventPoll) {
        try? poll.remove(session.connection.rawValue)
        session.connection.close()
        sessions[session.connection.rawValue] = nil
    }
}
