// The one place where the pcap layer's system calls meet Swift: a C return value becomes a value or an errno.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `errno` of a failed system call.
struct Errno: Error, Hashable, Sendable {
    /// The code (`EISDIR`, `ENOSPC`, ...).
    var code: CInt

    /// The system's text for the code ("Is a directory").
    ///
    /// The corresponding C function is `strerror`.
    var text: String { String(cString: strerror(code)) }

    /// A reason for a ``PcapError``: the text, the code and the call that failed
    /// ("Is a directory (errno 21 from open)").
    ///
    /// - Parameter call: The C function that failed.
    /// - Returns: The reason.
    func reason(from call: String) -> String { "\(text) (errno \(code) from \(call))" }
}

/// Makes a system call and turns its C return value into a Swift value: the result, or the `errno` when the
/// call returned -1.
///
/// Like swift-system's `valueOrErrno(retryOnInterrupt:)`: a call interrupted by a signal (`EINTR`) is made
/// again, unless `retryOnInterrupt` is false. `close` must not be retried on Linux: the descriptor is released
/// even when `close` reports `EINTR`, and a retry could close a descriptor another thread has just opened.
///
/// - Parameters:
///   - retryOnInterrupt: Whether to repeat the call when it fails with `EINTR`.
///   - call: The system call, returning -1 and setting `errno` on failure.
/// - Returns: The call's value, or its `errno`.
@inline(__always)
func valueOrErrno<Value: FixedWidthInteger & SignedInteger>(
    retryOnInterrupt: Bool = true, _ call: () -> Value
) -> Result<Value, Errno> {
    while true {
        let value = call()
        if value != -1 { return .success(value) }
        let code = errno
        if retryOnInterrupt && code == EINTR { continue }
        return .failure(Errno(code: code))
    }
}

/// The signature of `write(2)`, the seam through which ``PcapWriter`` writes: tests replace it to inject short
/// writes and interruptions.
typealias WriteCall = (_ descriptor: CInt, _ bytes: UnsafeRawPointer, _ count: Int) -> Int

/// Writes bytes to a file descriptor.
///
/// The corresponding C function is `write`.
///
/// - Returns: The number of bytes written, or -1 with `errno` set.
func systemWrite(_ descriptor: CInt, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// Opens a file for writing, creating it (mode 0644 before the umask) or truncating it. A symbolic link in the
/// last part of the path is refused (`ELOOP`), not followed: replays run as root on routers, and a link planted
/// where an output goes (`--out /tmp/x`) would otherwise truncate whatever file it points at.
///
/// The corresponding C function is `open` with `O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW`.
///
/// - Returns: The descriptor, or -1 with `errno` set.
func systemCreate(_ path: String) -> CInt {
    open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o644)
}

extension Errno {
    /// The reason a file could not be created: for `ELOOP` (the path names a symbolic link, which
    /// ``systemCreate(_:)`` does not follow) what to do about it, otherwise ``reason(from:)``.
    var creationReason: String {
        code == ELOOP
            ? "it is a symbolic link, which Tandem does not write through; remove it or give the file's real path"
                + " (\(reason(from: "open")))"
            : reason(from: "open")
    }
}

/// Closes a file descriptor.
///
/// The corresponding C function is `close`.
///
/// - Returns: 0, or -1 with `errno` set.
func systemClose(_ descriptor: CInt) -> CInt {
    close(descriptor)
}
