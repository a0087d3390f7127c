// The control socket of `tandem run`: the protocol only (one request line, at most 4 KiB, and its ControlAnswer,
// made part by part as the client takes it). Serving it without ever blocking the control thread (accepting,
// reading, writing, deadlines, limits) is TandemLinux's StreamServer: a client must send its whole line within a
// second of connecting, and take its answer within ten seconds of it being ready, plus a second per 256 KiB it
// took; at most `maximumClients` are served at once, more are closed at once.

import TandemControl
import TandemLinux

/// Serves the control protocol on a ``UnixListener`` through a ``StreamServer``.
final class ControlServer {
    /// Clients served at once.
    static let maximumClients = 32

    let server: StreamServer

    /// - Parameters:
    ///   - listener: The listening socket.
    ///   - requestTimeout: How long a client has, from its connection, to send its whole request line (ns).
    ///   - answerTimeout: How long it has, from when its answer is ready, to take it (ns; more for a large one).
    ///   - log: Where failures of the server itself go (accepting paused for want of descriptors, say).
    ///   - answer: Answers a request (on the event loop's thread; must not block).
    init(
        listener: UnixListener, requestTimeout: UInt64 = 1_000_000_000, answerTimeout: UInt64 = 10_000_000_000,
        log: EventLog? = nil, answer: @escaping (ControlRequest) -> ControlAnswer
    ) {
        let limits = StreamServer.Limits(
            maximumClients: Self.maximumClients, maximumRequest: ControlRequest.maximumLineLength + 1,
            requestTimeout: requestTimeout, answerTimeout: answerTimeout)
        server = StreamServer(
            listener: listener, limits: limits, requestStatus: Self.requestStatus,
            answer: { Self.answer($0, answer) })
        if let log { server.onError = { log.warning("control socket: \($0)") } }
    }

    /// How many clients are being served.
    var clientCount: Int { server.clientCount }

    /// Starts serving in `loop`.
    ///
    /// - Throws: ``SystemError`` from `epoll_ctl`.
    func register(in loop: EventLoop) throws(SystemError) { try server.register(in: loop) }

    /// Whether `descriptor` is the listener or one of the clients.
    func owns(_ descriptor: FileDescriptor) -> Bool { server.owns(descriptor) }

    /// A request is one line: complete at its newline, malformed if longer than
    /// ``ControlRequest/maximumLineLength``.
    static func requestStatus(_ bytes: [UInt8]) -> StreamServer.RequestStatus {
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return .incomplete }
        return end <= ControlRequest.maximumLineLength ? .complete(length: end + 1) : .malformed
    }

    /// The answer to a request line (its newline included); one that cannot be read answers one error line.
    static func answer(_ line: ArraySlice<UInt8>, _ answer: (ControlRequest) -> ControlAnswer)
        -> StreamServer.Answer
    {
        let text = String(decoding: line.dropLast(), as: UTF8.self)
        let made: ControlAnswer
        do {
            made = answer(try ControlRequest(line: text))
        } catch {
            made = .error(error.description)
        }
        return .parts { made.next(into: &$0) }
    }
}
