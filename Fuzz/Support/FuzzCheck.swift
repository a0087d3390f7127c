// A failed property must crash the target: libFuzzer only reports inputs that crash (or leak, or time out).

/// Stops the process with `message` if `condition` is false, so that libFuzzer saves the input as a crash.
///
/// `precondition` would do the same in debug builds but is compiled out at `-Ounchecked`; this never is.
@inline(__always)
public func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() { fatalError("fuzz check failed: \(message())", file: file, line: line) }
}
