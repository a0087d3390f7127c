// Log lines that never hold up the daemon: when standard error is a pipe nobody reads, a terminal that is
// stopped (^S), or a socket whose reader fell behind, a blocking write would stop the thread that logs (the
// control thread, and with it health checks and failover) for as long as the reader pleases. The writer writes
// each line whole if the descriptor takes it now, and otherwise drops it and counts it; a failure (EPIPE, EBADF,
// ...) drops and counts the line too.
//
// How the writes are kept from blocking, by what the descriptor is:
// - a socket (systemd's journal stream, say): send(MSG_DONTWAIT | MSG_NOSIGNAL), a per-call flag. Nothing changes
//   for the other holders of the socket, and no SIGPIPE;
// - a pipe, a terminal or another device: the file is opened again through /proc/self/fd/N with O_NONBLOCK. That
//   makes an open file description of our own, so the flag does not leak to the shell or the supervisor that
//   shares ours. Setting O_NONBLOCK on standard error itself would: the flag belongs to the open file
//   description, which dup() shares too (so dup'ing first does not help), and a shell whose terminal turns
//   non-blocking under it fails its reads with EAGAIN;
// - a regular file: written directly; O_NONBLOCK does not apply to files, and a file does not wait for a reader;
// - if /proc cannot reopen it (no /proc, a pipe of another user, a named FIFO without a reader): poll for room
//   (0 ms) before each write, under the writer's lock. For a pipe that is exact for lines up to PIPE_BUF (4 KiB)
//   written by this process alone; another writer on the same pipe could still fill it in between;
// - standard error closed when the writer is made (EBADF): nothing is ever written, since the number could later
//   be reused by a socket or a file the daemon opens, and every line counts as dropped.
// A long line that the descriptor takes only in part (over PIPE_BUF on a pipe, or a socket nearly full) keeps its
// rest in memory, and that rest goes out before any later line: lines never interleave or tear; while the rest
// cannot go out, later lines are dropped.

import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes whole lines to a descriptor without ever waiting: what cannot be written now is dropped and counted.
///
/// Thread-safe: lines from different threads never interleave. The process should ignore SIGPIPE (`tandem run`
/// does): a write to a pipe whose reader is gone then fails with EPIPE (counted) instead of ending the process.
public final class NonBlockingLineWriter: Sendable {
    /// How the writer keeps its writes from blocking (see the top of NonBlockingLineWriter.swift).
    public enum Method: Hashable, Sendable {
        /// `send` with MSG_DONTWAIT on the descriptor itself (a socket).
        case sendWithoutWaiting
        /// `write` on an open file description of its own, non-blocking (a pipe, a terminal, a device).
        case privateNonBlockingDescription
        /// `write` on the descriptor (a regular file).
        case direct
        /// `poll` for room, then `write` (when the file could not be opened again).
        case pollThenWrite
        /// Nothing: the descriptor was not open when the writer was made.
        case closed
    }

    private struct State {
        /// The rest of a line written in part, to go out before anything else.
        var rest: [UInt8] = []
    }

    /// The descriptor given.
    public let descriptor: FileDescriptor
    /// How writes are kept from blocking.
    public let method: Method
    /// Where the bytes go: `descriptor`, or the writer's own description of the same file.
    private let target: FileDescriptor
    private let ownsTarget: Bool
    private let state = Mutex(State())
    private let dropped = Atomic<Int>(0)
    private let written = Atomic<Int>(0)
    private let lastFailure = Mutex<SystemError?>(nil)

    /// Makes a writer for `descriptor` (which stays open and keeps its flags).
    ///
    /// The corresponding C functions are `fstat` and `open` ("/proc/self/fd/N", O_WRONLY | O_NONBLOCK).
    ///
    /// - Parameters:
    ///   - descriptor: Standard error, usually; any descriptor open for writing.
    ///   - reopening: Whether a pipe, terminal or device is opened again as a description of the writer's own
    ///     (false: ``Method/pollThenWrite``, which is also the fallback when that fails).
    public init(descriptor: FileDescriptor, reopening: Bool = true) {
        self.descriptor = descriptor
        var method = Method.closed
        var target = descriptor
        var owns = false
        switch Result(catching: { () throws(SystemError) in try descriptor.kind() }) {
        case .failure:
            method = .closed
        case .success(.socket):
            method = .sendWithoutWaiting
        case .success(.regularFile), .success(.blockDevice):
            method = .direct
        case .success:
            do throws(SystemError) {
                guard reopening else { throw SystemError(code: EPERM, operation: "reopening \(descriptor)") }
                target = try FileDescriptor.open(
                    "/proc/self/fd/\(descriptor.rawValue)", O_WRONLY | O_NONBLOCK | O_NOCTTY)
                method = .privateNonBlockingDescription
                owns = true
            } catch {
                method = .pollThenWrite
            }
        }
        self.method = method
        self.target = target
        ownsTarget = owns
    }

    deinit {
        if ownsTarget { try? target.close() }
    }

    /// Lines dropped so far: the descriptor had no room, the write failed, or the descriptor was closed.
    public var droppedLines: Int { dropped.load(ordering: .relaxed) }

    /// Lines written so far (a line whose rest is still waiting included).
    public var writtenLines: Int { written.load(ordering: .relaxed) }

    /// The last write that failed (not one that would have blocked), if any.
    public var lastError: SystemError? { lastFailure.withLock { $0 } }

    /// Writes `line` whole now, or drops it. A newline is added if it has none.
    ///
    /// The corresponding C functions are `send` (MSG_DONTWAIT), `write` and `poll`, by ``method``.
    ///
    /// - Returns: Whether the line went out (or started to, its rest waiting); false if it was dropped.
    @discardableResult
    public func write(_ line: String) -> Bool {
        var line = line
        if line.utf8.last != UInt8(ascii: "\n") { line += "\n" }
        return line.withUTF8 { write(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Writes one line, its newline included, whole now, or drops it.
    ///
    /// - Returns: Whether the line went out (or started to, its rest waiting); false if it was dropped.
    @discardableResult
    public func write(bytes line: UnsafeRawBufferPointer) -> Bool {
        let sent = state.withLock { state -> Bool in
            guard method != .closed else { return false }
            // What is left of an earlier line first; while some stays, nothing else goes.
            if !state.rest.isEmpty {
                let rest = state.rest
                let count = rest.withUnsafeBytes { attempt($0) }
                guard let count, count == rest.count else {
                    if let count, count > 0 { state.rest.removeFirst(count) }
                    return false
                }
                state.rest = []
            }
            guard let count = attempt(line), count > 0 || line.isEmpty else { return false }
            if count < line.count { state.rest = Array(line[count...]) }
            return true
        }
        if sent {
            written.add(1, ordering: .relaxed)
        } else {
            dropped.add(1, ordering: .relaxed)
        }
        return sent
    }

    /// Tries to write out what is left of a line written in part (call it now and then, e.g. before exit).
    ///
    /// - Returns: Whether nothing is left.
    @discardableResult
    public func flush() -> Bool {
        state.withLock { state -> Bool in
            guard !state.rest.isEmpty else { return true }
            let rest = state.rest
            guard let count = rest.withUnsafeBytes({ attempt($0) }) else { return false }
            state.rest.removeFirst(count)
            return state.rest.isEmpty
        }
    }

    /// One try, with the lock held: the bytes taken (maybe fewer than given), or nil if none could be.
    private func attempt(_ bytes: UnsafeRawBufferPointer) -> Int? {
        do throws(SystemError) {
            switch method {
            case .sendWithoutWaiting:
                return try target.send(bytes, flags: Int32(MSG_DONTWAIT))
            case .privateNonBlockingDescription, .direct:
                return try target.write(bytes)
            case .pollThenWrite:
                let ready = try target.poll(for: .writable)
                // An error or hang-up: the write below reports it (EPIPE).
                guard !ready.isEmpty else { return nil }
                return try target.write(bytes)
            case .closed:
                return nil
            }
        } catch {
            lastFailure.withLock { $0 = error }
            return nil
        }
    }
}
