// One gateway per network namespace and ingress device: a second `tandem run` would attach more queues to the
// same TUN device and fight over the same routes. An abstract unix socket name is the lock: abstract names belong
// to the network namespace, vanish when the process ends however it ends (no stale lock file after a kill -9),
// and binding a taken one fails at once.

import CTandemLinux

#if canImport(Glibc)
import Glibc
#endif

/// Held while this object lives.
public final class InstanceLock {
    private let descriptor: CInt
    /// The abstract socket name, without the leading zero byte.
    public let name: String

    /// Takes the lock `name` in the calling thread's network namespace.
    ///
    /// - Throws: ``SystemError`` with EADDRINUSE when another process holds it.
    public init(name: String) throws(SystemError) {
        self.name = name
        descriptor = try valueOrErrno("opening the lock socket @\(name)") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        let (lockAddress, length) = Self.abstractAddress(name)
        var address = lockAddress
        let descriptor = self.descriptor
        do {
            _ = try valueOrErrno("taking the lock @\(name)") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
                }
            }
            // Listening lets a second instance connect and ask the kernel who holds the lock (``holder(of:)``).
            _ = try valueOrErrno("listening on the lock socket @\(name)") { listen(descriptor, 4) }
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// The address of the abstract unix socket `name` and its length (sun_path[0] stays 0: an abstract name).
    private static func abstractAddress(_ name: String) -> (sockaddr_un, socklen_t) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in bytes.enumerated() { path[index + 1] = byte }
        }
        return (address, socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count))
    }

    /// Who holds the lock `name`: "pid 1234: tandem run --config /etc/tandem/a.yaml", or nil when nobody does (or
    /// the holder cannot be asked). The kernel tells the listener's credentials to a connected client
    /// (SO_PEERCRED); /proc names the command. The corresponding C calls are `connect` and `getsockopt`.
    public static func holder(of name: String) -> String? {
        let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard client >= 0 else { return nil }
        defer { close(client) }
        let (holderAddress, length) = abstractAddress(name)
        var address = holderAddress
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) }
        }
        guard connected == 0 else { return nil }
        let pid = CTandemLinux_peerProcess(client)
        guard pid > 0 else { return nil }
        var command = ""
        if let file = fopen("/proc/\(pid)/cmdline", "r") {
            defer { fclose(file) }
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = fread(&buffer, 1, buffer.count, file)
            command = buffer[0..<count].split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                .joined(separator: " ")
        }
        return "pid \(pid)" + (command.isEmpty ? "" : ": \(command)")
    }
}
