// systemd's notification protocol without libsystemd: one datagram per message, to the AF_UNIX socket named in
// $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace), as sd_notify(3) sends it. The service manager
// reads "READY=1", "RELOADING=1", "STATUS=...", "WATCHDOG=1" from it. Every call goes through valueOrErrno.

#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket that sends to systemd's notification socket.
///
/// The socket is not connected: each message is sent to the address (as sd_notify does), so a receiver that binds
/// its socket again (systemd after `daemon-reexec`) still gets the next one.
public final class SystemdNotifySocket: @unchecked Sendable {
    /// The address as $NOTIFY_SOCKET gave it: "/run/systemd/notify" or "@name".
    public let address: String
    /// The sending socket (AF_UNIX, SOCK_DGRAM, close-on-exec).
    public let descriptor: FileDescriptor
    private let socketAddress: sockaddr_un
    private let socketAddressLength: socklen_t

    /// How long one send may wait for room in the receiver's queue: a service manager that reads nothing for that
    /// long costs a message, not the control thread.
    public static let sendTimeoutMilliseconds = 2_000

    /// The socket named by $NOTIFY_SOCKET, or nil when the variable is unset or empty (not run by systemd).
    ///
    /// - Parameter unset: Removes $NOTIFY_SOCKET from the environment after reading it, as sd_notify's
    ///   `unset_environment` does, so that a program this process starts does not talk to systemd in its name.
    ///   The environment is not thread-safe: call this before other threads run.
    /// - Throws: ``SystemError`` for an address that is neither a path nor "@name" (e.g. systemd 253's "vsock:"), or
    ///   a socket that cannot be made.
    public static func fromEnvironment(unset: Bool = true) throws(SystemError) -> SystemdNotifySocket? {
        guard let value = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }) else { return nil }
        if unset { unsetenv("NOTIFY_SOCKET") }
        guard !value.isEmpty else { return nil }
        return try SystemdNotifySocket(address: value)
    }

    /// Makes a datagram socket that sends to `address`.
    ///
    /// The corresponding C functions are `socket` (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC) and `setsockopt`
    /// (SO_SNDTIMEO).
    ///
    /// - Parameter address: An absolute path, or "@name" for the abstract namespace (a leading zero byte, and no
    ///   terminating one).
    /// - Throws: ``SystemError`` (EAFNOSUPPORT for another kind of address, ENAMETOOLONG for a long one).
    public init(address: String) throws(SystemError) {
        var bytes = Array(address.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        guard abstract || bytes.first == UInt8(ascii: "/") else {
            throw SystemError(
                code: EAFNOSUPPORT, operation: "NOTIFY_SOCKET=\(address) (only a path or @name is supported)")
        }
        if abstract { bytes[0] = 0 }
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        // A path needs its terminating zero; an abstract name is exactly its bytes.
        guard bytes.count > 1, bytes.count + (abstract ? 0 : 1) <= capacity else {
            throw SystemError(code: ENAMETOOLONG, operation: "NOTIFY_SOCKET=\(address) (at most \(capacity - 1) bytes)")
        }
        withUnsafeMutableBytes(of: &storage.sun_path) { path in
            for (index, byte) in bytes.enumerated() { path[index] = byte }
        }
        socketAddress = storage
        socketAddressLength = socklen_t(
            MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        self.address = address
        let raw = try valueOrErrno("opening a socket for NOTIFY_SOCKET=\(address)") {
            socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        var timeout = timeval(
            tv_sec: Self.sendTimeoutMilliseconds / 1000, tv_usec: (Self.sendTimeoutMilliseconds % 1000) * 1000)
        if setsockopt(raw, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) != 0 {
            let code = errno
            Glibc.close(raw)
            throw SystemError(code: code, operation: "setting the send timeout of the socket for NOTIFY_SOCKET")
        }
        descriptor = FileDescriptor(rawValue: raw)
    }

    deinit { try? descriptor.close() }

    /// Sends `message` ("READY=1", or several "KEY=value" lines joined by "\n") as one datagram.
    ///
    /// The corresponding C function is `sendto` (MSG_NOSIGNAL).
    ///
    /// - Throws: ``SystemError`` ("notifying /run/systemd/notify: Connection refused" when nothing is bound there;
    ///   EAGAIN when the receiver's queue stayed full for ``sendTimeoutMilliseconds``).
    public func send(_ message: String) throws(SystemError) {
        var address = socketAddress
        let length = socketAddressLength
        let raw = descriptor.rawValue
        let bytes = Array(message.utf8)
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(SystemError) -> Int in
                try valueOrErrno("notifying \(self.address)") {
                    withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(raw, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), $0, length)
                        }
                    }
                }
            }
        }
        let sent = try result.get()
        // A datagram goes whole or not at all; anything else is a kernel surprise worth naming.
        guard sent == bytes.count else {
            throw SystemError(
                code: EMSGSIZE, operation: "notifying \(self.address): sent \(sent) of \(bytes.count) bytes")
        }
    }
}

/// systemd's watchdog: how often the service must say "WATCHDOG=1" ($WATCHDOG_USEC), if it is meant for this
/// process ($WATCHDOG_PID absent, or this process's pid), as sd_watchdog_enabled(3) reads it.
public enum SystemdWatchdog {
    /// The watchdog interval in microseconds, or nil when there is none for this process.
    ///
    /// - Parameters:
    ///   - unset: Removes $WATCHDOG_USEC and $WATCHDOG_PID after reading them (as sd_watchdog_enabled's
    ///     `unset_environment` does), so that a child does not take the watchdog for its own.
    ///   - pid: This process (getpid()); a test passes another.
    public static func intervalFromEnvironment(unset: Bool = true, pid: pid_t = getpid()) -> UInt64? {
        let usec = getenv("WATCHDOG_USEC").map { String(cString: $0) }
        let owner = getenv("WATCHDOG_PID").map { String(cString: $0) }
        if unset {
            unsetenv("WATCHDOG_USEC")
            unsetenv("WATCHDOG_PID")
        }
        return interval(usec: usec, pid: owner, ourPID: pid)
    }

    /// The interval the two variables' values give: nil if WATCHDOG_USEC is missing, not a positive number, or
    /// WATCHDOG_PID names another process.
    public static func interval(usec: String?, pid: String?, ourPID: pid_t) -> UInt64? {
        guard let usec, let value = UInt64(usec), value > 0 else { return nil }
        if let pid, !pid.isEmpty {
            guard let owner = Int32(pid), owner == ourPID else { return nil }
        }
        return value
    }
}
