// Why the daemon cannot start or cannot apply a change: a message a person can act on.

/// A problem that stops a start or a reload; the message says what and what to do.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}
