// An answer of the control socket, produced in chunks as the client reads it: `show routes` over a full table
// renders a few hundred prefixes at a time and never holds the whole answer in memory.

/// An answer, produced chunk by chunk.
public final class ControlAnswer {
    private let produce: (inout [UInt8]) -> Bool
    private var finished = false

    /// - Parameter produce: Appends the next chunk to the buffer; returns true when that was the last one.
    public init(_ produce: @escaping (inout [UInt8]) -> Bool) { self.produce = produce }

    /// An answer known whole.
    public convenience init(text: String) { self.init { $0 += Array(text.utf8); return true } }

    /// The answer to a request that could not be read or answered: one line.
    public static func error(_ message: String) -> ControlAnswer { ControlAnswer(text: "error: \(message)\n") }

    /// Appends the next chunk; false once everything was produced.
    public func next(into buffer: inout [UInt8]) -> Bool {
        guard !finished else { return false }
        finished = produce(&buffer)
        return true
    }

    /// The whole answer as text (for tests and small answers).
    public func collect() -> String {
        var bytes: [UInt8] = []
        while next(into: &bytes) {}
        return String(decoding: bytes, as: UTF8.self)
    }
}
