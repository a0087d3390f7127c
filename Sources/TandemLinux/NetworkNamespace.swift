// Network namespaces by name (`ip netns add NAME` makes /run/netns/NAME). Tandem runs inside the namespace it
// manages; tests open their netlink sockets inside the namespaces they made, without moving the process.

import CTandemLinux

#if canImport(Glibc)
import Glibc
#endif

/// A named network namespace.
public struct NetworkNamespace: Sendable {
    /// The name under /run/netns.
    public let name: String

    public init(name: String) { self.name = name }

    /// Runs `body` on the calling thread inside the namespace, then returns the thread to its own namespace.
    ///
    /// A namespace is a property of the thread; a socket keeps the namespace it was made in, so sockets opened
    /// in `body` keep working in the namespace after it returns. The corresponding C calls are `open` and
    /// `setns(CLONE_NEWNET)`.
    public func withEntered<T, E: Error>(_ body: () throws(E) -> T) throws -> T {
        let own = try valueOrErrno("opening this thread's network namespace") {
            open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        }
        defer { close(own) }
        let target = try valueOrErrno("opening network namespace \(name)") {
            open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        }
        defer { close(target) }
        _ = try valueOrErrno("entering network namespace \(name)") { CTandemLinux_enterNetworkNamespace(target) }
        defer {
            // Returning cannot fail for a namespace we were in; if it did, the thread must not go on.
            if CTandemLinux_enterNetworkNamespace(own) != 0 { fatalError("cannot return from network namespace \(name): errno \(errno)") }
        }
        return try body()
    }
}
