// A typed, non-owning file descriptor, in the manner of swift-system's FileDescriptor: a CInt that says what it is,
// with the calls the event loop, the stream server and the log writer make on it. Every call goes through
// valueOrErrno / valueOrWouldBlock (SystemCall.swift); nothing here closes a descriptor behind its owner's back.

#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor: a non-owning wrapper over its number (``close()`` ends it).
///
/// Like swift-system's `FileDescriptor`, it is a plain value: copying it does not duplicate the descriptor, and
/// whoever opened it closes it once.
public struct FileDescriptor: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The descriptor's number.
    public let rawValue: CInt

    /// Wraps an open descriptor.
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// Standard input (0).
    public static let standardInput = FileDescriptor(rawValue: STDIN_FILENO)
    /// Standard output (1).
    public static let standardOutput = FileDescriptor(rawValue: STDOUT_FILENO)
    /// Standard error (2).
    public static let standardError = FileDescriptor(rawValue: STDERR_FILENO)

    /// "file descriptor 7".
    public var description: String { "file descriptor \(rawValue)" }

    // MARK: Opening

    /// Opens `path` with `flags` (O_CLOEXEC is always added).
    ///
    /// The corresponding C function is `open`.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - flags: O_WRONLY, O_NONBLOCK, ...
    ///   - mode: The permissions of a file made with O_CREAT.
    /// - Throws: ``SystemError`` ("opening /proc/self/fd/2: No such device or address").
    public static func open(_ path: String, _ flags: CInt, mode: mode_t = 0o600) throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try valueOrErrno("opening \(path)") { Glibc.open(path, flags | O_CLOEXEC, mode) })
    }

    /// Opens /dev/null on each standard descriptor (0, 1, 2) that is closed, so that nothing the process opens later
    /// takes one of those numbers: with standard error closed (`2>&-`) the next descriptor made (a signalfd, a
    /// socket) would be number 2, and whatever writes to "standard error" would write into it.
    ///
    /// The corresponding C functions are `fcntl` (F_GETFD), `open` and `dup2`.
    ///
    /// - Returns: The standard descriptors that were closed.
    @discardableResult
    public static func occupyClosedStandardDescriptors() -> [FileDescriptor] {
        var occupied: [FileDescriptor] = []
        for number in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] where fcntl(number, F_GETFD) == -1 && errno == EBADF {
            let null = Glibc.open("/dev/null", O_RDWR)
            guard null >= 0 else { continue }
            if null != number {
                _ = dup2(null, number)
                _ = Glibc.close(null)
            }
            occupied.append(FileDescriptor(rawValue: number))
        }
        return occupied
    }

    /// Makes a pipe (both ends close-on-exec, blocking).
    ///
    /// The corresponding C functions are `pipe` and `fcntl` (FD_CLOEXEC).
    ///
    /// - Throws: ``SystemError`` ("making a pipe: Too many open files").
    public static func pipe() throws(SystemError) -> (readEnd: FileDescriptor, writeEnd: FileDescriptor) {
        var ends: [CInt] = [-1, -1]
        _ = try valueOrErrno("making a pipe") { Glibc.pipe(&ends) }
        let pair = (readEnd: FileDescriptor(rawValue: ends[0]), writeEnd: FileDescriptor(rawValue: ends[1]))
        do {
            try pair.readEnd.setCloseOnExec()
            try pair.writeEnd.setCloseOnExec()
        } catch {
            try? pair.readEnd.close()
            try? pair.writeEnd.close()
            throw error
        }
        return pair
    }

    /// Closes the descriptor. It is not retried on EINTR: Linux releases the number whatever close reports.
    ///
    /// The corresponding C function is `close`.
    ///
    /// - Throws: ``SystemError`` ("closing file descriptor 7: Bad file descriptor").
    public func close() throws(SystemError) {
        let descriptor = rawValue
        _ = try valueOrErrno("closing \(self)", retryOnInterrupt: false) { Glibc.close(descriptor) }
    }

    // MARK: Reading and writing

    /// Reads what is there, up to `buffer.count` bytes.
    ///
    /// The corresponding C function is `read`.
    ///
    /// - Returns: The bytes read (0 at the end of the stream), or nil if a non-blocking descriptor has nothing
    ///   yet (EAGAIN).
    /// - Throws: ``SystemError`` ("reading file descriptor 9: Connection reset by peer").
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        let descriptor = rawValue
        return try valueOrWouldBlock("reading \(self)") { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }
    }

    /// Writes as much of `bytes` as the descriptor takes now.
    ///
    /// The corresponding C function is `write`. On a pipe whose reader is gone, it raises SIGPIPE unless the
    /// process ignores it; ``send(_:flags:)`` never does, on sockets.
    ///
    /// - Returns: The bytes written, or nil if a non-blocking descriptor has no room (EAGAIN).
    /// - Throws: ``SystemError`` ("writing file descriptor 2: Broken pipe").
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> Int? {
        let descriptor = rawValue
        return try valueOrWouldBlock("writing \(self)") { Glibc.write(descriptor, bytes.baseAddress, bytes.count) }
    }

    /// Sends as much of `bytes` as the socket takes now, never raising SIGPIPE (MSG_NOSIGNAL is always added).
    ///
    /// The corresponding C function is `send`.
    ///
    /// - Parameter flags: More flags, e.g. MSG_DONTWAIT: this call does not wait even if the socket blocks.
    /// - Returns: The bytes sent, or nil if there is no room now (EAGAIN).
    /// - Throws: ``SystemError`` ("sending on file descriptor 9: Broken pipe").
    public func send(_ bytes: UnsafeRawBufferPointer, flags: CInt = 0) throws(SystemError) -> Int? {
        let descriptor = rawValue
        return try valueOrWouldBlock("sending on \(self)") {
            Glibc.send(descriptor, bytes.baseAddress, bytes.count, flags | Int32(MSG_NOSIGNAL))
        }
    }

    /// Waits up to `timeoutMilliseconds` until the descriptor is ready for `events`, and says what it is ready
    /// for (errors and hang-ups included); empty after the timeout.
    ///
    /// The corresponding C function is `poll`.
    ///
    /// - Parameters:
    ///   - events: ``EventPoll/Events/readable`` and/or ``EventPoll/Events/writable`` (poll's bits are epoll's).
    ///   - timeoutMilliseconds: 0 does not wait; -1 waits for ever.
    /// - Throws: ``SystemError`` ("polling file descriptor 2: ...").
    public func poll(for events: EventPoll.Events, timeoutMilliseconds: Int32 = 0) throws(SystemError)
        -> EventPoll.Events
    {
        var entry = pollfd(fd: rawValue, events: Int16(truncatingIfNeeded: events.rawValue), revents: 0)
        let count = try valueOrErrno("polling \(self)") { Glibc.poll(&entry, 1, timeoutMilliseconds) }
        return count == 0 ? [] : EventPoll.Events(rawValue: UInt32(UInt16(bitPattern: entry.revents)))
    }

    // MARK: Sockets

    /// Takes a connection waiting on a listening socket; the new descriptor is non-blocking and close-on-exec.
    ///
    /// The corresponding C functions are `accept` and `fcntl` (accept4 is behind _GNU_SOURCE).
    ///
    /// - Returns: The connection, or nil if none is waiting (EAGAIN).
    /// - Throws: ``SystemError`` ("accepting on file descriptor 5: Too many open files").
    public func accept() throws(SystemError) -> FileDescriptor? {
        let descriptor = rawValue
        guard let accepted = try valueOrWouldBlock("accepting on \(self)", { Glibc.accept(descriptor, nil, nil) })
        else { return nil }
        let connection = FileDescriptor(rawValue: accepted)
        do {
            try connection.setNonBlocking(true)
            try connection.setCloseOnExec()
        } catch {
            try? connection.close()
            throw error
        }
        return connection
    }

    /// Ends the sending direction: the peer reads the end of the stream once it has read what was sent.
    ///
    /// The corresponding C function is `shutdown` (SHUT_WR).
    ///
    /// - Throws: ``SystemError`` ("shutting down writing on file descriptor 9: Transport endpoint is not
    ///   connected").
    public func shutdownWriting() throws(SystemError) {
        let descriptor = rawValue
        _ = try valueOrErrno("shutting down writing on \(self)") { Glibc.shutdown(descriptor, Int32(SHUT_WR)) }
    }

    // MARK: Flags and kind

    /// Whether reads and writes on the open file description return EAGAIN instead of waiting (O_NONBLOCK).
    ///
    /// The flag belongs to the open file description, so every descriptor duplicated from it (and every process
    /// that inherited it) sees the change: do not set it on a descriptor you share, like standard error.
    ///
    /// The corresponding C function is `fcntl` (F_GETFL, F_SETFL).
    ///
    /// - Throws: ``SystemError`` ("making file descriptor 9 non-blocking: Bad file descriptor").
    public func setNonBlocking(_ nonBlocking: Bool) throws(SystemError) {
        let descriptor = rawValue
        let flags = try statusFlags()
        let wanted = nonBlocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        guard wanted != flags else { return }
        _ = try valueOrErrno("making \(self) \(nonBlocking ? "non-blocking" : "blocking")") {
            fcntl(descriptor, F_SETFL, wanted)
        }
    }

    /// The status flags of the open file description (O_NONBLOCK, O_APPEND, the access mode).
    ///
    /// The corresponding C function is `fcntl` (F_GETFL).
    ///
    /// - Throws: ``SystemError`` ("reading the flags of file descriptor 9: Bad file descriptor").
    public func statusFlags() throws(SystemError) -> CInt {
        let descriptor = rawValue
        return try valueOrErrno("reading the flags of \(self)") { fcntl(descriptor, F_GETFL) }
    }

    /// Closes the descriptor when the process executes another program.
    ///
    /// The corresponding C function is `fcntl` (F_SETFD, FD_CLOEXEC).
    ///
    /// - Throws: ``SystemError`` ("setting close-on-exec on file descriptor 9: Bad file descriptor").
    public func setCloseOnExec() throws(SystemError) {
        let descriptor = rawValue
        _ = try valueOrErrno("setting close-on-exec on \(self)") { fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    }

    /// What a descriptor refers to.
    public enum Kind: Hashable, Sendable {
        case regularFile, directory, pipe, socket, characterDevice, blockDevice, symbolicLink
    }

    /// What the descriptor refers to: a pipe, a socket, a terminal (a character device), a file...
    ///
    /// The corresponding C function is `fstat`.
    ///
    /// - Throws: ``SystemError`` ("examining file descriptor 2: Bad file descriptor"): EBADF if it is not open.
    public func kind() throws(SystemError) -> Kind {
        let descriptor = rawValue
        var status = stat()
        _ = try valueOrErrno("examining \(self)") { fstat(descriptor, &status) }
        switch status.st_mode & S_IFMT {
        case S_IFREG: return .regularFile
        case S_IFDIR: return .directory
        case S_IFIFO: return .pipe
        case S_IFSOCK: return .socket
        case S_IFCHR: return .characterDevice
        case S_IFBLK: return .blockDevice
        default: return .symbolicLink
        }
    }
}
