// The one place where TandemLinux turns a C return value into Swift: -1 and errno become an error value that
// carries the errno and the operation; EINTR is retried; for non-blocking calls, EAGAIN is a value (nil), not an error.

import CTandemLinux

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

    /// The errno's symbolic name ("EEXIST"), or "errno N" where the C library has no name for it.
    public var codeName: String { CTandemLinux_errnoName(code).map { String(cString: $0) } ?? "errno \(code)" }

    /// "adding route 198.18.4.0/24 table 100: File exists".
    public var description: String { "\(operation): \(reason)" }
}

/// Calls `call` until it does not fail with EINTR; -1 becomes a ``SystemError`` naming `operation`.
///
/// `retryOnInterrupt: false` is for the calls that must not be repeated: `close` (Linux releases the descriptor
/// even when it reports EINTR, and a second close could hit a descriptor another thread just opened).
@inline(__always)
func valueOrErrno<Value: FixedWidthInteger & SignedInteger>(
    _ operation: @autoclosure () -> String, retryOnInterrupt: Bool = true, _ call: () -> Value
) throws(SystemError) -> Value {
    // EAGAIN is an error here, so nil never comes back.
    try valueOrWouldBlock(operation(), wouldBlockIsAValue: false, retryOnInterrupt: retryOnInterrupt, call)!
}

/// Calls a non-blocking `call` until it does not fail with EINTR; EAGAIN (EWOULDBLOCK) becomes nil, any other
/// -1 a ``SystemError`` naming `operation`. Allocates nothing unless it throws.
@inline(__always)
func valueOrWouldBlock<Value: FixedWidthInteger & SignedInteger>(
    _ operation: @autoclosure () -> String, wouldBlockIsAValue: Bool = true, retryOnInterrupt: Bool = true,
    _ call: () -> Value
) throws(SystemError) -> Value? {
    while true {
        let value = call()
        if value != -1 { return value }
        let code = errno
        if code == EINTR && retryOnInterrupt { continue }
        if wouldBlockIsAValue && (code == EAGAIN || code == EWOULDBLOCK) { return nil }
        throw SystemError(code: code, operation: operation())
    }
}

/// A change in a batch that the kernel refused: where it was in the batch, and the error naming it.
public struct Refusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// The change's position in the batch.
    public var index: Int
    /// The errno and the operation ("adding route 198.18.4.0/24 table 100: File exists").
    public var error: SystemError

    public init(index: Int, error: SystemError) {
        self.index = index
        self.error = error
    }

    public var description: String { error.description }
}
