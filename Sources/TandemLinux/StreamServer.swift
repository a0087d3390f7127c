// One non-blocking request/answer server over a listening stream socket (unix or TCP), in an EventLoop: accept,
// read one request, answer, close. The control socket and the metrics endpoint are thin users of it: each brings
// its protocol (when is a request complete, what is the answer) and nothing else.
//
// Bounded in every direction, so that no client can hold the control thread or the memory of the daemon:
// - at most `maximumClients` at once; more are closed as soon as they are accepted;
// - a request of at most `maximumRequest` bytes, whole within `requestTimeout` of the accept. The deadline is
//   absolute: a client that sends a byte a second does not move it;
// - an answer taken whole within `answerTimeout` of the moment it was ready, plus 1 s per `minimumAnswerRate`
//   bytes already taken (a large answer read at a fair rate gets the time it needs; a reader that stalls does
//   not, and lets go of what its answer holds, e.g. the router of before a reload);
// - at most `bytesPerTurn` bytes written per readiness event, so that other descriptors are not kept waiting;
// - when accept fails for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) the listener leaves
//   the loop until a client leaves or `acceptBackoff` passes: a level-triggered listener that cannot be
//   accepted from would wake the loop for ever.

#if canImport(Glibc)
import Glibc
#endif

/// A listening stream socket a ``StreamServer`` accepts from: ``UnixListener``, ``TCPListener``, or a test's
/// stand-in (the seam through which tests make accept fail).
public protocol StreamListener: AnyObject {
    /// The listening socket (non-blocking).
    var listeningDescriptor: FileDescriptor { get }
    /// What it listens on, for messages: "/run/tandem/gw.sock", "127.0.0.1:9464".
    var endpoint: String { get }
    /// Takes a waiting connection, non-blocking and close-on-exec.
    ///
    /// - Returns: The connection, or nil if none is waiting.
    /// - Throws: ``SystemError`` ("accepting on /run/tandem/gw.sock: Too many open files").
    func acceptConnection() throws(SystemError) -> FileDescriptor?
}

/// A non-blocking server of one request and one answer per connection, registered in an ``EventLoop``.
///
/// Used on the loop's thread. The deadlines are read from the loop's clock (``EventLoop/now()``), so a test
/// that makes its loop with a clock it moves drives them.
public final class StreamServer {
    /// What the bytes received so far are.
    public enum RequestStatus: Hashable, Sendable {
        /// Not a whole request yet: wait for more.
        case incomplete
        /// A whole request: its first `length` bytes (what follows is ignored).
        case complete(length: Int)
        /// Not a request of this protocol: the client is closed without an answer.
        case malformed
    }

    /// An answer, written as the client takes it.
    public enum Answer {
        /// An answer known whole.
        case bytes([UInt8])
        /// An answer made part by part as the client takes it (a large one never sits whole in memory): the
        /// closure appends the next part to the buffer and returns true, or returns false once it is finished.
        /// A part may be empty: the producer did a bounded slice of work (sorting, say) and the server gives the
        /// loop back before asking again, so other clients, timers and sockets are served in between.
        case parts((inout [UInt8]) -> Bool)
    }

    /// What one server allows; times in nanoseconds.
    public struct Limits: Hashable, Sendable {
        /// Clients served at once; more are closed as soon as they are accepted.
        public var maximumClients: Int
        /// The largest request, in bytes; a client that sends more without a whole request is closed.
        public var maximumRequest: Int
        /// How long after the accept the whole request must be in.
        public var requestTimeout: UInt64
        /// How long after the answer is ready the client has to take it whole (before the rate allowance).
        public var answerTimeout: UInt64
        /// The rate, in bytes per second, that earns a large answer more time: each byte the client took
        /// extends its answer deadline by 1/rate s. 0: no extension.
        public var minimumAnswerRate: UInt64
        /// The most bytes written to one client per readiness event.
        public var bytesPerTurn: Int
        /// How long accepting pauses after accept ran out of descriptors or memory (unless a client leaves
        /// first).
        public var acceptBackoff: UInt64

        public init(
            maximumClients: Int = 16, maximumRequest: Int = 4096, requestTimeout: UInt64 = 1_000_000_000,
            answerTimeout: UInt64 = 10_000_000_000, minimumAnswerRate: UInt64 = 256 * 1024,
            bytesPerTurn: Int = 256 * 1024, acceptBackoff: UInt64 = 100_000_000
        ) {
            precondition(maximumClients >= 1 && maximumRequest >= 1 && bytesPerTurn >= 1)
            self.maximumClients = maximumClients
            self.maximumRequest = maximumRequest
            self.requestTimeout = requestTimeout
            self.answerTimeout = answerTimeout
            self.minimumAnswerRate = minimumAnswerRate
            self.bytesPerTurn = bytesPerTurn
            self.acceptBackoff = acceptBackoff
        }
    }

    /// What happened to the clients so far.
    public struct Statistics: Hashable, Sendable {
        /// Clients taken into service.
        public var accepted = 0
        /// Clients closed at once because ``Limits/maximumClients`` were being served.
        public var refused = 0
        /// Answers written whole.
        public var answered = 0
        /// Requests the protocol called malformed, or longer than ``Limits/maximumRequest``.
        public var malformed = 0
        /// Clients closed because their request was not in by its deadline.
        public var requestTimeouts = 0
        /// Clients closed because they had not taken their answer by its deadline.
        public var answerTimeouts = 0
        /// Clients that hung up before the end, or whose socket failed.
        public var failed = 0
        /// Times accepting paused because accept ran out of descriptors or memory.
        public var acceptPauses = 0

        public init() {}
    }

    private final class Client {
        let descriptor: FileDescriptor
        var request: [UInt8] = []
        var answering = false
        var produce: ((inout [UInt8]) -> Bool)?
        var output: [UInt8] = []
        var offset = 0
        /// Bytes of the answer the client took.
        var taken: UInt64 = 0
        /// The request deadline; once answering, the answer deadline before the rate allowance.
        var deadline: UInt64
        var timer: EventLoop.Timer?

        init(_ descriptor: FileDescriptor, deadline: UInt64) {
            self.descriptor = descriptor
            self.deadline = deadline
        }
    }

    /// The listening socket.
    public let listener: any StreamListener
    /// The bounds.
    public let limits: Limits
    /// What happened to the clients so far.
    public private(set) var statistics = Statistics()
    /// Told about failures the server recovered from (accept pausing, a descriptor the loop refused); the
    /// daemon logs them. Clients that misbehave are counted in ``statistics``, not reported.
    public var onError: ((SystemError) -> Void)?

    private let requestStatus: ([UInt8]) -> RequestStatus
    private let answer: (ArraySlice<UInt8>) -> Answer
    private weak var loop: EventLoop?
    private var clients: [CInt: Client] = [:]
    private let scratch: UnsafeMutableRawBufferPointer
    private var acceptPaused = false
    private var resumeTimer: EventLoop.Timer?
    /// Whether the pause in progress was reported (one message per run of failures, not one per back-off).
    private var pauseReported = false

    /// How many connections one readiness of the listener accepts at most.
    static let acceptsPerTurn = 64

    /// The errors of accept that concern one pending connection, not the listener: accept(2) says to take them
    /// as EAGAIN and go on.
    static let connectionErrors: Set<Int32> = [
        ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH,
        ETIMEDOUT,
    ]

    /// Makes a server; ``register(in:)`` starts it.
    ///
    /// - Parameters:
    ///   - listener: The listening socket; the server keeps it.
    ///   - limits: The bounds.
    ///   - requestStatus: Looks at the bytes received so far (never more than `maximumRequest` + 1).
    ///   - answer: Makes the answer to a whole request (on the loop's thread; it must not block).
    public init(
        listener: any StreamListener, limits: Limits = Limits(),
        requestStatus: @escaping ([UInt8]) -> RequestStatus, answer: @escaping (ArraySlice<UInt8>) -> Answer
    ) {
        self.listener = listener
        self.limits = limits
        self.requestStatus = requestStatus
        self.answer = answer
        scratch = .allocate(byteCount: limits.maximumRequest + 1, alignment: 1)
    }

    deinit {
        deregister()
        scratch.deallocate()
    }

    /// How many clients are being served.
    public var clientCount: Int { clients.count }

    /// Whether accepting is paused (accept ran out of descriptors or memory).
    public var isAcceptPaused: Bool { acceptPaused }

    /// Whether `descriptor` is the listener or one of the clients.
    public func owns(_ descriptor: FileDescriptor) -> Bool {
        descriptor == listener.listeningDescriptor || clients[descriptor.rawValue] != nil
    }

    /// Starts accepting in `loop` (held weakly: the loop holds the server's handlers).
    ///
    /// The corresponding C function is `epoll_ctl` (through ``EventLoop/register(_:for:_:)``).
    ///
    /// - Throws: ``SystemError`` ("adding file descriptor 7 to epoll instance 5: ...").
    public func register(in loop: EventLoop) throws(SystemError) {
        precondition(self.loop == nil, "a StreamServer serves one event loop")
        try loop.register(listener.listeningDescriptor) { [weak self] _ in self?.acceptClients() }
        self.loop = loop
    }

    /// Stops accepting and closes every client.
    public func deregister() {
        guard let loop else { return }
        if let resumeTimer { loop.cancel(resumeTimer) }
        resumeTimer = nil
        acceptPaused = false
        try? loop.deregister(listener.listeningDescriptor)
        for client in Array(clients.values) { close(client) }
        self.loop = nil
    }

    // MARK: Accepting

    private func acceptClients() {
        guard let loop else { return }
        for _ in 0..<Self.acceptsPerTurn {
            let connection: FileDescriptor
            do {
                guard let accepted = try listener.acceptConnection() else { return }
                connection = accepted
            } catch {
                // Errors of one pending connection (see accept(2)): take the next one.
                if Self.connectionErrors.contains(error.code) { continue }
                // EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything unexpected: the listener stays readable, so
                // watching it now would only spin.
                pauseAccepting(error)
                return
            }
            pauseReported = false
            guard clients.count < limits.maximumClients else {
                statistics.refused += 1
                try? connection.close()
                continue
            }
            let client = Client(connection, deadline: loop.now() &+ limits.requestTimeout)
            do {
                try loop.register(connection) { [weak self] _ in self?.serve(client) }
            } catch {
                try? connection.close()
                onError?(error)
                continue
            }
            clients[connection.rawValue] = client
            statistics.accepted += 1
            arm(client)
        }
    }

    private func pauseAccepting(_ error: SystemError) {
        guard let loop, !acceptPaused else { return }
        acceptPaused = true
        statistics.acceptPauses += 1
        try? loop.deregister(listener.listeningDescriptor)
        resumeTimer = loop.schedule(at: loop.now() &+ limits.acceptBackoff) { [weak self] in
            self?.resumeTimer = nil
            self?.resumeAccepting()
        }
        if !pauseReported {
            pauseReported = true
            let pause = limits.acceptBackoff / 1_000_000
            onError?(
                SystemError(
                    code: error.code,
                    operation: "accepting on \(listener.endpoint) (paused until a client leaves, or \(pause) ms)"))
        }
    }

    private func resumeAccepting() {
        guard acceptPaused, let loop else { return }
        acceptPaused = false
        if let resumeTimer { loop.cancel(resumeTimer) }
        resumeTimer = nil
        do {
            try loop.register(listener.listeningDescriptor) { [weak self] _ in self?.acceptClients() }
        } catch {
            onError?(error)
            pauseAccepting(error)
        }
    }

    // MARK: Serving

    private func serve(_ client: Client) {
        if client.answering {
            writeAnswer(client)
        } else {
            readRequest(client)
        }
    }

    private func readRequest(_ client: Client) {
        let room = limits.maximumRequest + 1 - client.request.count
        let count: Int?
        do {
            count = try client.descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<room]))
        } catch {
            return close(client, counting: \.failed)
        }
        guard let count else { return }
        // The end of the stream before a whole request.
        guard count > 0 else { return close(client, counting: \.failed) }
        client.request.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<count]))
        switch requestStatus(client.request) {
        case .incomplete:
            if client.request.count > limits.maximumRequest { close(client, counting: \.malformed) }
        case .malformed:
            close(client, counting: \.malformed)
        case .complete(let length):
            guard length >= 0, length <= min(limits.maximumRequest, client.request.count) else {
                return close(client, counting: \.malformed)
            }
            start(answer(client.request[..<length]), to: client)
        }
    }

    private func start(_ answer: Answer, to client: Client) {
        guard let loop else { return }
        client.request = []
        client.answering = true
        switch answer {
        case .bytes(let bytes): client.output = bytes
        case .parts(let produce): client.produce = produce
        }
        client.deadline = loop.now() &+ limits.answerTimeout
        arm(client)
        do {
            try loop.setInterest(client.descriptor, to: .writable)
        } catch {
            onError?(error)
            return close(client, counting: \.failed)
        }
        // The first slice now: the socket has room more often than not.
        writeAnswer(client)
    }

    private func writeAnswer(_ client: Client) {
        var budget = limits.bytesPerTurn
        while budget > 0 {
            if client.offset == client.output.count {
                client.output.removeAll(keepingCapacity: true)
                client.offset = 0
                guard let produce = client.produce, produce(&client.output) else {
                    statistics.answered += 1
                    // The peer reads the end of the stream after the answer.
                    try? client.descriptor.shutdownWriting()
                    return close(client)
                }
                // An empty part: the producer worked a slice; the socket is still writable, so the next turn of
                // the loop comes back here after everything else that is ready.
                if client.output.isEmpty { return }
                continue
            }
            let start = client.offset
            let end = min(client.output.count, start + budget)
            let result = client.output.withUnsafeBytes { all in
                Result { () throws(SystemError) -> Int? in
                    try client.descriptor.send(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                }
            }
            switch result {
            case .success(let written?):
                client.offset += written
                client.taken += UInt64(written)
                budget -= written
            case .success(nil):
                return  // Full: the next writable event goes on.
            case .failure:
                return close(client, counting: \.failed)
            }
        }
    }

    // MARK: Deadlines

    /// When `client` is late: the request deadline, or the answer deadline extended by what it took.
    private func deadline(of client: Client) -> UInt64 {
        guard client.answering, limits.minimumAnswerRate > 0 else { return client.deadline }
        let (scaled, overflow) = client.taken.multipliedReportingOverflow(by: 1_000_000_000)
        let allowance = overflow ? UInt64.max / 2 : scaled / limits.minimumAnswerRate
        let (deadline, late) = client.deadline.addingReportingOverflow(allowance)
        return late ? .max : deadline
    }

    /// Sets the client's one timer at its deadline (the allowance may have moved it when it fires: then again).
    private func arm(_ client: Client) {
        guard let loop else { return }
        if let timer = client.timer { loop.cancel(timer) }
        client.timer = loop.schedule(at: deadline(of: client)) { [weak self, weak client] in
            guard let self, let client else { return }
            client.timer = nil
            expire(client)
        }
    }

    private func expire(_ client: Client) {
        guard let loop, clients[client.descriptor.rawValue] === client else { return }
        if deadline(of: client) > loop.now() { return arm(client) }
        close(client, counting: client.answering ? \.answerTimeouts : \.requestTimeouts)
    }

    private func close(_ client: Client, counting outcome: WritableKeyPath<Statistics, Int>? = nil) {
        if let outcome { statistics[keyPath: outcome] += 1 }
        if let timer = client.timer { loop?.cancel(timer) }
        client.timer = nil
        try? loop?.deregister(client.descriptor)
        try? client.descriptor.close()
        clients[client.descriptor.rawValue] = nil
        // What a client held (its answer's producer, say) goes now, not when the number is reused.
        client.produce = nil
        client.output = []
        // A descriptor is free again: accepting may go on.
        if acceptPaused { resumeAccepting() }
    }
}
