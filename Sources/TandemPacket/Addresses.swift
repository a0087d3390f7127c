/// The address types of Tandem: plain integers in host byte order, so that a prefix
/// match is a shift and a compare. Conversion from and to network byte order happens
/// only where bytes are read or written (header views, parsers).

/// What IPv4 and IPv6 addresses have in common, so that tables and tests can be
/// written once for both families.
public protocol IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address as an unsigned integer, most significant bit first.
    associatedtype RawValue: FixedWidthInteger & UnsignedInteger & Sendable
    /// Number of bits in an address: 32 or 128.
    static var bitWidth: Int { get }
    /// The address in host byte order.
    var rawValue: RawValue { get }
    /// The address whose value in host byte order is `rawValue`.
    init(rawValue: RawValue)
    /// Parses the address from its text form (see the conforming type for the accepted forms).
    ///
    /// - Parameter text: The address text, with nothing before or after it.
    /// - Throws: ``AddressParseError`` saying what is wrong and where.
    init(_ text: some StringProtocol) throws(AddressParseError)
    /// Parses the address from UTF-8 bytes without allocating, for loaders of large files.
    ///
    /// - Parameter utf8: The address text and nothing else (no spaces, no line ending).
    /// - Returns: The address, or `nil` if the bytes are not a valid address.
    static func parse(utf8: UnsafeRawBufferPointer) -> Self?
}

extension IPAddress {
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An IPv4 address, e.g. `198.18.0.1`.
public struct IPv4Address: IPAddress {
    public typealias RawValue = UInt32
    public static var bitWidth: Int { 32 }
    /// The address in host byte order: `198.18.0.1` is `0xC612_0001`.
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The address `a.b.c.d`.
    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }
}

/// An IPv6 address, e.g. `2001:db8::1`.
public struct IPv6Address: IPAddress {
    public typealias RawValue = UInt128
    public static var bitWidth: Int { 128 }
    /// The address in host byte order: the first group is the top 16 bits.
    public var rawValue: UInt128
    @inlinable public init(rawValue: UInt128) { self.rawValue = rawValue }
    /// The address from its eight 16-bit groups, first group first.
    ///
    /// - Parameter groups: Exactly eight groups; any other count is a programming error and traps.
    public init(groups: [UInt16]) {
        precondition(groups.count == 8, "an IPv6 address has eight groups")
        var value: UInt128 = 0
        for group in groups { value = value << 16 | UInt128(group) }
        rawValue = value
    }
}

/// Why a prefix could not be made.
///
/// Each case carries the text of the prefix as it was given, so that a message can quote it.
public enum PrefixError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The length is larger than the address width.
    case lengthOutOfRange(text: String, length: Int, maximum: Int)
    /// Bits are set after the prefix length: `10.1.2.3/8` should be written `10.0.0.0/8`.
    case hostBitsSet(text: String, correctForm: String)
    /// The text is not `address/length` in some way the other cases do not name (e.g. it is empty).
    case malformed(text: String, reason: String)
    /// The text has no `/length` part.
    case missingSlash(text: String)
    /// The part before the `/` is not an address of the prefix's family.
    case invalidAddress(text: String, error: AddressParseError)
    /// The part after the `/` is not a plain decimal number (empty, a sign, a leading zero, another character).
    case invalidLength(text: String, lengthText: String)

    public var description: String {
        switch self {
        case .lengthOutOfRange(let text, let length, let maximum):
            return "prefix '\(text)': length \(length) is out of range (0...\(maximum))"
        case .hostBitsSet(let text, let correctForm):
            return "prefix '\(text)' has host bits set after its length; write it as \(correctForm)"
        case .malformed(let text, let reason):
            return "prefix '\(text)': \(reason)"
        case .missingSlash(let text):
            let single = text.contains(":") ? 128 : 32
            return "prefix '\(text)' has no '/length'; add the length after a slash, e.g. '\(text)/\(single)'"
        case .invalidAddress(let text, let error):
            return "prefix '\(text)': \(error.problem)"
        case .invalidLength(let text, let lengthText):
            return "prefix '\(text)': length '\(lengthText)' is not a decimal number without leading zeros"
        }
    }
}

/// What IPv4 and IPv6 prefixes have in common.
public protocol IPPrefix: Hashable, Sendable, CustomStringConvertible {
    associatedtype Address: IPAddress
    /// The first address of the prefix; every bit after `length` is zero.
    var address: Address { get }
    /// The number of leading bits that the prefix fixes, 0 through `Address.bitWidth`.
    var length: Int { get }
    /// Makes a prefix; host bits must be zero (see ``PrefixError/hostBitsSet(text:correctForm:)``).
    init(address: Address, length: Int) throws(PrefixError)
    /// Makes a prefix, clearing any host bits (for loaders that count what they normalised).
    init(normalizing address: Address, length: Int)
    /// Parses `address/length`; host bits must be zero.
    ///
    /// - Parameter text: The prefix text, with nothing before or after it.
    /// - Throws: ``PrefixError`` naming the text and what is wrong with it.
    init(_ text: some StringProtocol) throws(PrefixError)
    /// Parses `address/length` from UTF-8 bytes without allocating, for loaders of large files.
    ///
    /// - Parameter utf8: The prefix text and nothing else (no spaces, no line ending).
    /// - Returns: The address as written, the length and whether host bits were set; `nil` if the bytes are
    ///   not a prefix of this family or the length is out of range.
    static func parse(utf8: UnsafeRawBufferPointer) -> ParsedPrefix<Self>?
}

extension IPPrefix {
    /// The mask of the prefix's fixed bits.
    @inlinable public static func mask(length: Int) -> Address.RawValue {
        length == 0 ? 0 : ~Address.RawValue(0) << (Address.bitWidth - length)
    }
    /// Whether `address` lies inside the prefix.
    @inlinable public func contains(_ address: Address) -> Bool {
        address.rawValue & Self.mask(length: length) == self.address.rawValue
    }
    /// Whether `other` lies inside (or equals) this prefix.
    @inlinable public func contains(_ other: Self) -> Bool {
        other.length >= length && contains(other.address)
    }
    public var description: String { "\(address)/\(length)" }
}

/// An IPv4 prefix such as `198.18.0.0/15`.
public struct IPv4Prefix: IPPrefix {
    public let address: IPv4Address
    public let length: Int
    public init(address: IPv4Address, length: Int) throws(PrefixError) {
        guard (0...32).contains(length) else {
            throw .lengthOutOfRange(text: "\(address)/\(length)", length: length, maximum: 32)
        }
        let masked = address.rawValue & Self.mask(length: length)
        guard masked == address.rawValue else {
            throw .hostBitsSet(text: "\(address)/\(length)", correctForm: "\(IPv4Address(rawValue: masked))/\(length)")
        }
        self.address = address
        self.length = length
    }
    public init(normalizing address: IPv4Address, length: Int) {
        precondition((0...32).contains(length), "IPv4 prefix length \(length) out of range")
        self.address = IPv4Address(rawValue: address.rawValue & Self.mask(length: length))
        self.length = length
    }
}

/// An IPv6 prefix such as `2001:db8::/32`.
public struct IPv6Prefix: IPPrefix {
    public let address: IPv6Address
    public let length: Int
    public init(address: IPv6Address, length: Int) throws(PrefixError) {
        guard (0...128).contains(length) else {
            throw .lengthOutOfRange(text: "\(address)/\(length)", length: length, maximum: 128)
        }
        let masked = address.rawValue & Self.mask(length: length)
        guard masked == address.rawValue else {
            throw .hostBitsSet(text: "\(address)/\(length)", correctForm: "\(IPv6Address(rawValue: masked))/\(length)")
        }
        self.address = address
        self.length = length
    }
    public init(normalizing address: IPv6Address, length: Int) {
        precondition((0...128).contains(length), "IPv6 prefix length \(length) out of range")
        self.address = IPv6Address(rawValue: address.rawValue & Self.mask(length: length))
        self.length = length
    }
}
