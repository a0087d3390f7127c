/// Why a text is not an IP address: the text, the family that was expected and the first problem found.
///
/// The description reads like `'10.0.0.256': part 4 is larger than 255`, so that a configuration error
/// can be shown to a person as it is.
public struct AddressParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The address family a parser was asked for.
    public typealias Family = IPFamily

    /// The first problem the parser found. Offsets are zero-based byte offsets into the UTF-8 text;
    /// part and group numbers count from 1 as a person would.
    ///
    /// The dotted-quad reasons (`emptyPart` through `tooManyParts`) also describe the IPv4 tail of an
    /// IPv6 address such as `::ffff:198.18.0.1`; their part numbers then count within that tail.
    public enum Reason: Hashable, Sendable {
        /// The text is empty.
        case empty
        /// A byte that has no place in the address, e.g. a space, a sign, a zone index (`%eth0`).
        case invalidCharacter(UInt8, offset: Int)
        /// A dotted-quad part has no digits, as in `10..0.1` or `10.0.0.`.
        case emptyPart(part: Int)
        /// A dotted-quad part starts with `0` and has more digits, as in `10.01.0.1`; some parsers read
        /// that as octal, so it is refused rather than guessed.
        case leadingZero(part: Int)
        /// A dotted-quad part is larger than 255.
        case partTooLarge(part: Int)
        /// Fewer than four dotted-quad parts (`10.1`: shorthand forms are not accepted).
        case tooFewParts(count: Int)
        /// More than four dotted-quad parts.
        case tooManyParts
        /// An IPv6 group has no digits, as in `:1::` or `1::2:` (a single colon at either end).
        case emptyGroup(group: Int)
        /// An IPv6 group has more than four hex digits.
        case groupTooLong(group: Int)
        /// Three or more colons in a row, starting at `offset`.
        case tooManyColons(offset: Int)
        /// A second `::`, starting at `offset`: it would be ambiguous how many zero groups each stands for.
        case multipleDoubleColons(offset: Int)
        /// More than eight groups, or eight groups together with a `::` (which stands for at least one).
        case tooManyGroups
        /// Fewer than eight groups and no `::`.
        case tooFewGroups(count: Int)
    }

    /// The text as it was given.
    public let text: String
    /// The family that was expected.
    public let family: Family
    /// What is wrong.
    public let reason: Reason

    /// Makes an error.
    ///
    /// - Parameters:
    ///   - text: The text that failed to parse.
    ///   - family: The family that was expected.
    ///   - reason: What is wrong.
    public init(text: String, family: Family, reason: Reason) {
        self.text = text
        self.family = family
        self.reason = reason
    }

    public var description: String { "'\(Self.clipped(text))': \(problem)" }

    /// The problem alone, without the quoted text (for messages that quote a larger text, e.g. a prefix).
    public var problem: String {
        // In an IPv6 address, dotted-quad problems can only come from the embedded IPv4 tail.
        let inTail = family == .ipv6 ? " of the embedded IPv4 address" : ""
        switch reason {
        case .empty:
            return family == .ipv4 ? "an IPv4 address cannot be empty" : "an IPv6 address cannot be empty"
        case .invalidCharacter(let byte, let offset):
            return "unexpected \(Self.describe(byte: byte)) at position \(offset + 1)"
        case .emptyPart(let part):
            return "part \(part)\(inTail) is empty"
        case .leadingZero(let part):
            return "part \(part)\(inTail) has a leading zero (write it without, e.g. 10.1.0.1, not 10.01.0.1)"
        case .partTooLarge(let part):
            return "part \(part)\(inTail) is larger than 255"
        case .tooFewParts(let count):
            return inTail.isEmpty
                ? "an IPv4 address has four parts, this has \(count)"
                : "the embedded IPv4 address has \(count) parts, not four"
        case .tooManyParts:
            return inTail.isEmpty
                ? "an IPv4 address has four parts, this has more" : "the embedded IPv4 address has more than four parts"
        case .emptyGroup(let group):
            return "group \(group) is empty (a single ':' at the start or the end)"
        case .groupTooLong(let group):
            return "group \(group) has more than four hex digits"
        case .tooManyColons(let offset):
            return "more than two colons in a row at position \(offset + 1)"
        case .multipleDoubleColons(let offset):
            return "a second '::' at position \(offset + 1); only one is allowed"
        case .tooManyGroups:
            return "more than eight groups (a '::' stands for at least one zero group)"
        case .tooFewGroups(let count):
            return "an IPv6 address has eight groups or a '::', this has \(count) groups and no '::'"
        }
    }

    /// A byte as a person can read it in a message: the character if printable ASCII, else its hex value.
    static func describe(byte: UInt8) -> String {
        if (0x21...0x7E).contains(byte) { return "character '\(Character(Unicode.Scalar(byte)))'" }
        if byte == 0x20 { return "space" }
        let hex = String(byte, radix: 16, uppercase: true)
        return "byte 0x\(hex.count == 1 ? "0" + hex : hex)"
    }

    /// The text clipped for a message, so that a megabyte of garbage does not become a megabyte of log.
    static func clipped(_ text: String) -> String {
        text.utf8.count <= 80 ? text : String(text.prefix(77)) + "..."
    }
}

/// The internal failure of the scanners: only the reason, so that the allocation-free byte parsers can fail
/// without building a string. The throwing initialisers add the text and the family.
struct AddressScanFailure: Error {
    let reason: AddressParseError.Reason
    init(_ reason: AddressParseError.Reason) { self.reason = reason }
}
