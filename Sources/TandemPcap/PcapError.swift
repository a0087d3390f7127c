// Errors of the pcap layer, as values that say what failed, on which file, and why.

/// A pcap file could not be opened, read or written.
public struct PcapError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was being done ("opening", "reading", "writing", ...).
    public var operation: String
    /// The file's path.
    public var path: String
    /// The reason: libpcap's message or the system's errno text.
    public var reason: String

    public init(operation: String, path: String, reason: String) {
        self.operation = operation
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(operation) \(path): \(reason)" }
}
