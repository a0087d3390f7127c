// A listening TCP socket (the metrics endpoint's): bound to an IPv4 or IPv6 address and port, non-blocking, for a
// StreamServer in the control thread's EventLoop.

import TandemPacket

#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket, non-blocking and close-on-exec; closed when this object goes.
public final class TCPListener: StreamListener {
    /// The listening socket.
    public let descriptor: FileDescriptor
    /// The port bound (the one asked for, or the one the kernel chose for port 0).
    public let port: UInt16
    /// "127.0.0.1:9464", "[::1]:9464" (with the port bound).
    public let endpoint: String

    /// Listens on `address`:`port` (SO_REUSEADDR, so that a restart does not wait for old connections).
    ///
    /// The corresponding C functions are `socket`, `setsockopt` (SO_REUSEADDR), `bind`, `listen` and
    /// `getsockname`.
    ///
    /// - Parameters:
    ///   - address: The local address.
    ///   - port: The port; 0 lets the kernel choose one (tests).
    ///   - backlog: Connections the kernel keeps waiting for an accept.
    /// - Throws: ``SystemError`` ("binding 127.0.0.1:9464: Address already in use").
    public convenience init(address: IPv4Address, port: UInt16, backlog: Int32 = 16) throws(SystemError) {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        socketAddress.sin_addr.s_addr = address.rawValue.bigEndian
        try self.init(family: AF_INET, address: socketAddress, shown: "\(address)", port: port, backlog: backlog)
    }

    /// Listens on [`address`]:`port` (SO_REUSEADDR).
    ///
    /// The corresponding C functions are `socket`, `setsockopt` (SO_REUSEADDR), `bind`, `listen` and
    /// `getsockname`.
    ///
    /// - Parameters:
    ///   - address: The local address.
    ///   - port: The port; 0 lets the kernel choose one (tests).
    ///   - backlog: Connections the kernel keeps waiting for an accept.
    /// - Throws: ``SystemError`` ("binding [::1]:9464: Address already in use").
    public convenience init(address: IPv6Address, port: UInt16, backlog: Int32 = 16) throws(SystemError) {
        var socketAddress = sockaddr_in6()
        socketAddress.sin6_family = sa_family_t(AF_INET6)
        socketAddress.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { bytes in
            for index in 0..<16 { bytes[index] = UInt8(truncatingIfNeeded: address.rawValue >> (8 * (15 - index))) }
        }
        try self.init(family: AF_INET6, address: socketAddress, shown: "[\(address)]", port: port, backlog: backlog)
    }

    private init<Address>(family: CInt, address: Address, shown: String, port: UInt16, backlog: Int32)
        throws(SystemError)
    {
        let asked = "\(shown):\(port)"
        let socketType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let descriptor = FileDescriptor(
            rawValue: try valueOrErrno("opening a TCP socket for \(asked)") { socket(family, socketType, 0) })
        let raw = descriptor.rawValue
        do throws(SystemError) {
            var one: CInt = 1
            _ = try valueOrErrno("setting SO_REUSEADDR on the socket for \(asked)") {
                setsockopt(raw, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
            }
            var address = address
            _ = try valueOrErrno("binding \(asked)") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(raw, $0, socklen_t(MemoryLayout<Address>.size))
                    }
                }
            }
            _ = try valueOrErrno("listening on \(asked)") { listen(raw, backlog) }
            var storage = sockaddr_storage()
            var size = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = try valueOrErrno("reading the address of \(asked)") {
                withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(raw, $0, &size) }
                }
            }
            // sin_port and sin6_port are at the same place, in network byte order.
            self.port = withUnsafeBytes(of: storage) {
                UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            }
        } catch {
            try? descriptor.close()
            throw error
        }
        self.descriptor = descriptor
        endpoint = "\(shown):\(self.port)"
    }

    deinit { try? descriptor.close() }

    /// The listening socket.
    public var listeningDescriptor: FileDescriptor { descriptor }

    /// Takes a waiting connection, non-blocking and close-on-exec; nil if none is waiting.
    ///
    /// The corresponding C functions are `accept` and `fcntl`.
    ///
    /// - Throws: ``SystemError`` ("accepting on 127.0.0.1:9464: Too many open files").
    public func acceptConnection() throws(SystemError) -> FileDescriptor? {
        do {
            return try descriptor.accept()
        } catch {
            throw SystemError(code: error.code, operation: "accepting on \(endpoint)")
        }
    }
}
