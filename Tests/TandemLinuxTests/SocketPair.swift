import Glibc
import TandemLinux

extension FileDescriptor {
    /// A pair of connected unix stream sockets (close-on-exec, blocking), for tests. The corresponding C function is
    /// `socketpair`.
    static func socketPair() throws -> (FileDescriptor, FileDescriptor) {
        var ends: [CInt] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw SocketPairError(errno: errno)
        }
        return (FileDescriptor(rawValue: ends[0]), FileDescriptor(rawValue: ends[1]))
    }
}

/// socketpair failed.
struct SocketPairError: Error {
    var errno: CInt
}
