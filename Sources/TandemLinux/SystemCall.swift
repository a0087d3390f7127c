// The one place where TandemLinux turns a C return value into Swift: -1 and errno become an error value that
// carries the errno and the operation; EINTR is retried.

#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: the errno and what was being done.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The errno value.
    public var code: Int32
    /// What was being done, e.g. "adding route 198.18.4.0/24 table 100".
    public var operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The system's text for the errno ("File exists").
    public var reason: String { String(cString: strerror(code)) }

    /// "adding route 198.18.4.0/24 table 100: File exists".
    public var description: String { "\(operation): \(reason)" }
}

/// Calls `call` until it does not fail with EINTR; -1 becomes a ``SystemError`` naming `operation`.
@inline(__always)
func valueOrErrno<Value: FixedWidthInteger & SignedInteger>(
    _ operation: @autoclosure () -> String, _ call: () -> Value
) throws(SystemError) -> Value {
    while true {
        let value = call()
        if value != -1 { return value }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(code: code, operation: operation())
    }
}
