// Unix stream sockets for the control socket of `tandem run` and its clients (`tandem show`, `tandem lookup`): a
// listening socket bound to a path with a mode, and connections read and written without blocking (the server)
// or with a timeout (the client). Every call goes through valueOrErrno / valueOrWouldBlock.

#if canImport(Glibc)
import Glibc
#endif

/// A connected unix stream socket: a non-owning wrapper over its file descriptor (``close()`` ends it).
public struct UnixConnection: RawRepresentable, Hashable, Sendable {
    /// The file descriptor.
    public let rawValue: CInt

    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// Connects to the stream socket at `path`, blocking, with a send and receive timeout.
    ///
    /// The corresponding C functions are `socket`, `setsockopt` (SO_RCVTIMEO, SO_SNDTIMEO) and `connect`.
    ///
    /// - Parameters:
    ///   - path: The socket's path (at most 107 bytes).
    ///   - timeoutSeconds: How long one read or write may wait; 0 waits for ever.
    /// - Throws: ``SystemError`` ("connecting to /run/tandem/gw.sock: No such file or directory").
    public static func connect(path: String, timeoutSeconds: Int = 30) throws(SystemError) -> UnixConnection {
        let descriptor = try valueOrErrno("opening a unix socket") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
                _ = try valueOrErrno("setting the timeout of the socket for \(path)") {
                    setsockopt(descriptor, SOL_SOCKET, option, &timeout, socklen_t(MemoryLayout<timeval>.size))
                }
            }
            var (address, length) = try socketAddress(path)
            _ = try valueOrErrno("connecting to \(path)") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, length) }
                }
            }
        } catch {
            Glibc.close(descriptor)
            throw error
        }
        return UnixConnection(rawValue: descriptor)
    }

    /// Reads what is there, up to `buffer.count` bytes.
    ///
    /// The corresponding C function is `read`.
    ///
    /// - Returns: The bytes read (0 at the end of the stream), or nil if a non-blocking socket has nothing yet
    ///   (EAGAIN; also a blocking socket whose receive timeout passed).
    /// - Throws: ``SystemError`` ("reading control socket connection 9: Connection reset by peer").
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        let descriptor = rawValue
        return try valueOrWouldBlock("reading control socket connection \(descriptor)") {
            Glibc.read(descriptor, buffer.baseAddress, buffer.count)
        }
    }

    /// Writes as much of `bytes` as the socket takes now (never raising SIGPIPE).
    ///
    /// The corresponding C function is `send` (MSG_NOSIGNAL).
    ///
    /// - Returns: The bytes written, or nil if a non-blocking socket has no room (EAGAIN).
    /// - Throws: ``SystemError`` ("writing control socket connection 9: Broken pipe").
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> Int? {
        let descriptor = rawValue
        return try valueOrWouldBlock("writing control socket connection \(descriptor)") {
            send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        }
    }

    /// Writes all of `bytes`, blocking (a client's request).
    ///
    /// - Throws: ``SystemError``; EAGAIN if the send timeout passed.
    public func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let result = bytes.withUnsafeBytes { all in
                Result { () throws(SystemError) -> Int? in try write(UnsafeRawBufferPointer(rebasing: all[offset...])) }
            }
            guard let written = try result.get() else { throw SystemError(code: EAGAIN, operation: "writing to the control socket") }
            offset += written
        }
    }

    /// Closes the socket. The corresponding C function is `close`.
    public func close() { _ = Glibc.close(rawValue) }
}

/// A listening unix stream socket bound to a path; closes it and removes the path when it goes.
public final class UnixListener: StreamListener {
    /// The listening file descriptor (non-blocking: serve it with a ``StreamServer``).
    public let descriptor: CInt
    /// The socket's path.
    public let path: String

    /// Binds a non-blocking stream socket to `path` with `mode` and listens. A file already at `path` is
    /// removed first (a socket left by a run that was killed): the caller holds the lock that makes it stale.
    ///
    /// The corresponding C functions are `socket`, `unlink`, `bind`, `chmod` and `listen`.
    ///
    /// - Parameters:
    ///   - path: Where (at most 107 bytes).
    ///   - mode: The socket file's permissions, e.g. 0o600. The socket is bound under a umask that lets no one
    ///     else connect before the mode is set.
    /// - Throws: ``SystemError`` ("binding the control socket /run/tandem/gw.sock: Permission denied").
    public init(path: String, mode: mode_t, backlog: Int32 = 16) throws(SystemError) {
        self.path = path
        var (address, length) = try socketAddress(path)
        let descriptor = try valueOrErrno("opening the control socket \(path)") {
            socket(
                AF_UNIX,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }
        do throws(SystemError) {
            if unlink(path) != 0 && errno != ENOENT {
                throw SystemError(code: errno, operation: "removing the old control socket \(path)")
            }
            let old = umask(0o077)
            defer { umask(old) }
            _ = try valueOrErrno("binding the control socket \(path)") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
                }
            }
            _ = try valueOrErrno("setting mode \(String(mode, radix: 8)) on \(path)") { chmod(path, mode) }
            _ = try valueOrErrno("listening on \(path)") { listen(descriptor, backlog) }
        } catch {
            Glibc.close(descriptor)
            throw error
        }
        self.descriptor = descriptor
    }

    deinit {
        Glibc.close(descriptor)
        unlink(path)
    }

    /// Takes a waiting connection, non-blocking and close-on-exec; nil if none is waiting.
    ///
    /// The corresponding C functions are `accept` and `fcntl`.
    ///
    /// - Throws: ``SystemError`` ("accepting on /run/tandem/gw.sock: Too many open files").
    public func accept() throws(SystemError) -> UnixConnection? {
        try acceptConnection().map { UnixConnection(rawValue: $0.rawValue) }
    }

    /// Makes a directory with `mode` if it is missing (not its parents).
    ///
    /// The corresponding C function is `mkdir`.
    ///
    /// - Throws: ``SystemError`` ("making directory /run/tandem: Permission denied").
    public static func makeDirectory(_ path: String, mode: mode_t) throws(SystemError) {
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw SystemError(code: errno, operation: "making directory \(path)")
        }
    }
}

extension UnixListener {
    /// The listening socket.
    public var listeningDescriptor: FileDescriptor { FileDescriptor(rawValue: descriptor) }

    /// The socket's path.
    public var endpoint: String { path }

    /// Takes a waiting connection, non-blocking and close-on-exec; nil if none is waiting.
    ///
    /// The corresponding C functions are `accept` and `fcntl`.
    ///
    /// - Throws: ``SystemError`` ("accepting on /run/tandem/gw.sock: Too many open files").
    public func acceptConnection() throws(SystemError) -> FileDescriptor? {
        do {
            return try listeningDescriptor.accept()
        } catch {
            throw SystemError(code: error.code, operation: "accepting on \(path)")
        }
    }
}

/// A sockaddr_un for `path`, and its length.
private func socketAddress(_ path: String) throws(SystemError) -> (sockaddr_un, socklen_t) {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard !bytes.isEmpty, bytes.count < capacity else {
        throw SystemError(code: ENAMETOOLONG, operation: "control socket path \(path) (at most \(capacity - 1) bytes)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { path in
        for (index, byte) in bytes.enumerated() { path[index] = byte }
    }
    return (address, socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1))
}
