// Parsing of IPv4 dotted quads: `a.b.c.d`, four decimal parts 0...255, nothing else.
//
// The accepted language is the one of `inet_pton(AF_INET, ...)`: no shorthand (`10.1`), no hex or octal,
// no leading zeros (`010` is 8 to some parsers and 10 to others, so it is refused), no surrounding spaces.

extension IPv4Address {
    /// Parses a dotted quad such as `198.18.0.1`.
    ///
    /// - Parameter text: The address text, with nothing before or after it.
    /// - Throws: ``AddressParseError`` with the first problem, e.g. `'10.0.0.256': part 4 is larger than 255`.
    public init(_ text: some StringProtocol) throws(AddressParseError) {
        let result = text.withUTF8Bytes { bytes in
            Result { () throws(AddressScanFailure) in try DottedQuad.scan(bytes, from: 0, to: bytes.count) }
        }
        switch result {
        case .success(let value): self.init(rawValue: value)
        case .failure(let failure): throw AddressParseError(text: String(text), family: .ipv4, reason: failure.reason)
        }
    }

    /// Parses a dotted quad from UTF-8 bytes without allocating.
    ///
    /// - Parameter utf8: The address text and nothing else.
    /// - Returns: The address, or `nil` if the bytes are not a dotted quad (use ``init(_:)`` to learn why).
    public static func parse(utf8: UnsafeRawBufferPointer) -> IPv4Address? {
        guard let value = try? DottedQuad.scan(utf8, from: 0, to: utf8.count) else { return nil }
        return IPv4Address(rawValue: value)
    }
}

/// The dotted-quad scanner, shared by IPv4 addresses, the IPv4 tail of IPv6 addresses and prefixes.
enum DottedQuad {
    /// Scans `bytes[start..<end]` as a dotted quad.
    ///
    /// - Parameters:
    ///   - bytes: The text.
    ///   - start: The first byte of the quad.
    ///   - end: One past the last byte; the quad must end exactly there.
    /// - Returns: The address in host byte order.
    /// - Throws: The first problem; offsets in it are offsets into `bytes`.
    @inline(__always)
    static func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) throws(AddressScanFailure)
        -> UInt32
    {
        guard start < end else { throw AddressScanFailure(.empty) }
        var value: UInt32 = 0
        var part = 0
        var index = start
        while true {
            part += 1
            let partStart = index
            var partValue: UInt32 = 0
            while index < end {
                let digit = bytes[index] &- UInt8(ascii: "0")
                guard digit <= 9 else { break }
                // A second digit after a leading '0' is the octal ambiguity; refuse it before it can add up.
                if index > partStart && bytes[partStart] == UInt8(ascii: "0") {
                    throw AddressScanFailure(.leadingZero(part: part))
                }
                partValue = partValue * 10 + UInt32(digit)
                // Checked per digit, so a long run of digits cannot overflow.
                if partValue > 255 { throw AddressScanFailure(.partTooLarge(part: part)) }
                index += 1
            }
            if index == partStart {
                if index < end && bytes[index] != UInt8(ascii: ".") {
                    throw AddressScanFailure(.invalidCharacter(bytes[index], offset: index))
                }
                throw AddressScanFailure(.emptyPart(part: part))
            }
            value = value << 8 | partValue
            if index == end { break }
            guard bytes[index] == UInt8(ascii: ".") else {
                throw AddressScanFailure(.invalidCharacter(bytes[index], offset: index))
            }
            if part == 4 { throw AddressScanFailure(.tooManyParts) }
            index += 1
        }
        guard part == 4 else { throw AddressScanFailure(.tooFewParts(count: part)) }
        return value
    }
}

extension StringProtocol {
    /// Calls `body` with the text's UTF-8 bytes, copying only when the text is not stored contiguously
    /// (e.g. a bridged or non-native string). The parsers are written once, over bytes.
    ///
    /// - Parameter body: Reads the bytes; they are valid only during the call.
    /// - Returns: What `body` returns.
    func withUTF8Bytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let result = utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        var copy = String(self)
        return copy.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}
