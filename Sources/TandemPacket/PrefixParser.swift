// Parsing of prefixes written `address/length`, e.g. `198.18.0.0/15` or `2001:db8::/32`.
//
// The length is plain decimal: no sign, no spaces, no leading zeros (so every prefix has one spelling).
// Host bits after the length are an error for people (`10.1.2.3/8` is probably a typo) but only a count for
// loaders of real tables, so the throwing parsers refuse them and the byte parsers report them.

/// A prefix as a loader read it: the address exactly as written, the length, and whether bits were set after
/// the length (so that the loader can normalise the prefix and count how often it had to).
public struct ParsedPrefix<Prefix: IPPrefix>: Hashable, Sendable {
    /// The address as written, host bits included.
    public let address: Prefix.Address
    /// The prefix length, already checked to be within `0...Prefix.Address.bitWidth`.
    public let length: Int
    /// Whether `address` has bits set after `length`.
    public let hostBitsSet: Bool

    /// The prefix with any host bits cleared.
    public var prefix: Prefix { Prefix(normalizing: address, length: length) }

    /// Makes a parsed prefix, working out whether host bits are set.
    ///
    /// - Parameters:
    ///   - address: The address as written.
    ///   - length: The prefix length; must be within `0...Prefix.Address.bitWidth` (traps otherwise).
    public init(address: Prefix.Address, length: Int) {
        precondition((0...Prefix.Address.bitWidth).contains(length), "prefix length \(length) out of range")
        self.address = address
        self.length = length
        self.hostBitsSet = address.rawValue & Prefix.mask(length: length) != address.rawValue
    }
}

extension IPv4Prefix {
    /// Parses a prefix such as `198.18.0.0/15`.
    ///
    /// - Parameter text: The prefix text, with nothing before or after it.
    /// - Throws: ``PrefixError``: `missingSlash`, `invalidAddress`, `invalidLength`, `lengthOutOfRange` or
    ///   `hostBitsSet` (which names the corrected form).
    public init(_ text: some StringProtocol) throws(PrefixError) {
        let parsed = try PrefixText.parse(text, family: .ipv4, as: IPv4Prefix.self, scan: DottedQuad.scan)
        self = parsed
    }

    /// Parses a prefix from UTF-8 bytes without allocating; host bits are reported, not refused.
    ///
    /// - Parameter utf8: The prefix text and nothing else.
    /// - Returns: The address as written, the length and whether host bits were set; `nil` if the bytes are not
    ///   an IPv4 prefix with a length in 0...32.
    public static func parse(utf8: UnsafeRawBufferPointer) -> ParsedPrefix<IPv4Prefix>? {
        guard let (value, length) = try? PrefixText.scan(utf8, maximum: 32, scan: DottedQuad.scan) else { return nil }
        return ParsedPrefix(address: IPv4Address(rawValue: value), length: length)
    }
}

extension IPv6Prefix {
    /// Parses a prefix such as `2001:db8::/32`.
    ///
    /// - Parameter text: The prefix text, with nothing before or after it.
    /// - Throws: ``PrefixError``: `missingSlash`, `invalidAddress`, `invalidLength`, `lengthOutOfRange` or
    ///   `hostBitsSet` (which names the corrected form).
    public init(_ text: some StringProtocol) throws(PrefixError) {
        let parsed = try PrefixText.parse(text, family: .ipv6, as: IPv6Prefix.self, scan: IPv6Text.scan)
        self = parsed
    }

    /// Parses a prefix from UTF-8 bytes without allocating; host bits are reported, not refused.
    ///
    /// - Parameter utf8: The prefix text and nothing else.
    /// - Returns: The address as written, the length and whether host bits were set; `nil` if the bytes are not
    ///   an IPv6 prefix with a length in 0...128.
    public static func parse(utf8: UnsafeRawBufferPointer) -> ParsedPrefix<IPv6Prefix>? {
        guard let (value, length) = try? PrefixText.scan(utf8, maximum: 128, scan: IPv6Text.scan) else { return nil }
        return ParsedPrefix(address: IPv6Address(rawValue: value), length: length)
    }
}

/// What the prefix scanner found wrong, without the text (added by the throwing parsers).
enum PrefixScanFailure: Error {
    case missingSlash
    case invalidAddress(AddressParseError.Reason)
    case invalidLength(start: Int)
    case lengthOutOfRange(Int)
}

/// The prefix scanner, generic over the address scanner so that both families share it.
enum PrefixText {
    /// Scans `address/length`.
    ///
    /// - Parameters:
    ///   - bytes: The text.
    ///   - maximum: The largest length allowed (the address width).
    ///   - scan: The address scanner of the family.
    /// - Returns: The address as written and the length.
    /// - Throws: The first problem: the slash, then the address, then the length.
    @inline(__always)
    static func scan<Raw>(
        _ bytes: UnsafeRawBufferPointer, maximum: Int,
        scan: (UnsafeRawBufferPointer, Int, Int) throws(AddressScanFailure) -> Raw
    ) throws(PrefixScanFailure) -> (Raw, Int) {
        var slash = 0
        while slash < bytes.count && bytes[slash] != UInt8(ascii: "/") { slash += 1 }
        guard slash < bytes.count else { throw .missingSlash }

        let address: Raw
        do throws(AddressScanFailure) {
            address = try scan(bytes, 0, slash)
        } catch {
            throw .invalidAddress(error.reason)
        }

        let start = slash + 1
        guard start < bytes.count else { throw .invalidLength(start: start) }
        // One spelling per prefix: "0" alone, or digits without a leading zero.
        if bytes[start] == UInt8(ascii: "0") && bytes.count - start > 1 { throw .invalidLength(start: start) }
        var length = 0
        for index in start..<bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit <= 9 else { throw .invalidLength(start: start) }
            // Saturates rather than overflows, so "/99999999999999999999" is still reported as out of range.
            let (times10, overflow1) = length.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(digit))
            length = overflow1 || overflow2 ? Int.max : sum
        }
        guard length <= maximum else { throw .lengthOutOfRange(length) }
        return (address, length)
    }

    /// The throwing parse behind `IPv4Prefix(_:)` and `IPv6Prefix(_:)`.
    ///
    /// - Parameters:
    ///   - text: The prefix text.
    ///   - family: The family, for address errors.
    ///   - type: The prefix type to make.
    ///   - scan: The address scanner of the family.
    /// - Returns: The prefix.
    /// - Throws: ``PrefixError`` quoting `text`.
    static func parse<Prefix: IPPrefix>(
        _ text: some StringProtocol, family: AddressParseError.Family, as type: Prefix.Type,
        scan: (UnsafeRawBufferPointer, Int, Int) throws(AddressScanFailure) -> Prefix.Address.RawValue
    ) throws(PrefixError) -> Prefix {
        let maximum = Prefix.Address.bitWidth
        let result = text.withUTF8Bytes { bytes in
            Result { () throws(PrefixScanFailure) in try Self.scan(bytes, maximum: maximum, scan: scan) }
        }
        // The text is copied only for an error or a message, never for a prefix that parses.
        switch result {
        case .success(let (raw, length)):
            let parsed = ParsedPrefix<Prefix>(address: Prefix.Address(rawValue: raw), length: length)
            if parsed.hostBitsSet { throw .hostBitsSet(text: String(text), correctForm: parsed.prefix.description) }
            return parsed.prefix
        case .failure(.missingSlash):
            let string = String(text)
            if string.isEmpty { throw .malformed(text: string, reason: "the text is empty") }
            throw .missingSlash(text: string)
        case .failure(.invalidAddress(let reason)):
            let string = String(text)
            let address = String(decoding: string.utf8.prefix { $0 != UInt8(ascii: "/") }, as: UTF8.self)
            throw .invalidAddress(text: string, error: AddressParseError(text: address, family: family, reason: reason))
        case .failure(.invalidLength(let start)):
            let string = String(text)
            throw .invalidLength(
                text: string, lengthText: String(decoding: string.utf8.dropFirst(start), as: UTF8.self))
        case .failure(.lengthOutOfRange(let length)):
            throw .lengthOutOfRange(text: String(text), length: length, maximum: maximum)
        }
    }
}
