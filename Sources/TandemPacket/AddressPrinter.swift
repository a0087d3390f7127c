// Printing of addresses: dotted quads for IPv4, the RFC 5952 canonical form for IPv6.
//
// Both write into the string's own storage (`String(unsafeUninitializedCapacity:)`), so printing costs the
// string and nothing else; an IPv4 address fits a small string and allocates nothing at all.

extension IPv4Address {
    /// The dotted quad, e.g. `198.18.0.1`.
    public var description: String {
        String(unsafeUninitializedCapacity: AddressPrinter.maxIPv4Length) { buffer in
            AddressPrinter.writeDottedQuad(rawValue, into: buffer, at: 0)
        }
    }
}

extension IPv6Address {
    /// The canonical text of RFC 5952: lowercase hex without leading zeros, the longest run of two or more
    /// zero groups as `::` (the first such run on a tie), and IPv4-mapped addresses with a dotted tail
    /// (`::ffff:198.18.0.1`, section 5).
    public var description: String {
        String(unsafeUninitializedCapacity: AddressPrinter.maxIPv6Length) { buffer in
            AddressPrinter.writeIPv6(rawValue, into: buffer)
        }
    }

    /// The IPv4-mapped address `::ffff:a.b.c.d` (RFC 4291 section 2.5.5.2).
    ///
    /// - Parameter ipv4: The IPv4 address to map.
    @inlinable public init(ipv4Mapped ipv4: IPv4Address) {
        self.init(rawValue: 0xFFFF_0000_0000 | UInt128(ipv4.rawValue))
    }

    /// The embedded IPv4 address if this is an IPv4-mapped address (`::ffff:a.b.c.d`), else `nil`.
    @inlinable public var ipv4Mapped: IPv4Address? {
        rawValue >> 32 == 0xFFFF ? IPv4Address(rawValue: UInt32(truncatingIfNeeded: rawValue)) : nil
    }
}

/// The writers behind `description`.
enum AddressPrinter {
    /// `255.255.255.255`.
    static let maxIPv4Length = 15
    /// `ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff`; a mapped address (`::ffff:255.255.255.255`) is shorter.
    static let maxIPv6Length = 39

    /// Writes `a.b.c.d` at `position`.
    ///
    /// - Parameters:
    ///   - value: The address in host byte order.
    ///   - buffer: Room for at least 15 bytes after `position`.
    ///   - position: Where to start writing.
    /// - Returns: The position after the last byte written.
    static func writeDottedQuad(_ value: UInt32, into buffer: UnsafeMutableBufferPointer<UInt8>, at position: Int)
        -> Int
    {
        var position = position
        for shift in stride(from: 24, through: 0, by: -8) {
            if shift != 24 {
                buffer[position] = UInt8(ascii: ".")
                position += 1
            }
            let part = UInt8(truncatingIfNeeded: value >> UInt32(shift))
            if part >= 100 {
                buffer[position] = UInt8(ascii: "0") + part / 100
                position += 1
            }
            if part >= 10 {
                buffer[position] = UInt8(ascii: "0") + part / 10 % 10
                position += 1
            }
            buffer[position] = UInt8(ascii: "0") + part % 10
            position += 1
        }
        return position
    }

    /// Writes the RFC 5952 text of an IPv6 address.
    ///
    /// - Parameters:
    ///   - value: The address in host byte order.
    ///   - buffer: Room for at least 39 bytes.
    /// - Returns: The number of bytes written.
    static func writeIPv6(_ value: UInt128, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        @inline(__always) func group(_ index: Int) -> UInt16 {
            UInt16(truncatingIfNeeded: value >> UInt128(112 - 16 * index))
        }
        // RFC 5952 section 5: an IPv4-mapped address keeps its dotted tail, which is how people know it.
        if value >> 32 == 0xFFFF {
            var position = 0
            for byte in "::ffff:".utf8 {
                buffer[position] = byte
                position += 1
            }
            return writeDottedQuad(UInt32(truncatingIfNeeded: value), into: buffer, at: position)
        }

        // Section 4.2: the longest run of zero groups, the first on a tie, and only if at least two long.
        var bestStart = -1
        var bestLength = 1
        var runStart = -1
        for index in 0..<8 {
            if group(index) == 0 {
                if runStart < 0 { runStart = index }
                let runLength = index - runStart + 1
                if runLength > bestLength {
                    bestStart = runStart
                    bestLength = runLength
                }
            } else {
                runStart = -1
            }
        }

        var position = 0
        var needsColon = false
        var index = 0
        while index < 8 {
            if index == bestStart {
                buffer[position] = UInt8(ascii: ":")
                buffer[position + 1] = UInt8(ascii: ":")
                position += 2
                index += bestLength
                needsColon = false
                continue
            }
            if needsColon {
                buffer[position] = UInt8(ascii: ":")
                position += 1
            }
            position = writeHex(group(index), into: buffer, at: position)
            needsColon = true
            index += 1
        }
        return position
    }

    /// Writes a group in lowercase hex without leading zeros (section 4.1 and 4.3).
    static func writeHex(_ group: UInt16, into buffer: UnsafeMutableBufferPointer<UInt8>, at position: Int) -> Int {
        var position = position
        var started = false
        for shift in stride(from: 12, through: 0, by: -4) {
            let nibble = UInt8(truncatingIfNeeded: group >> UInt16(shift) & 0xF)
            // The last nibble is always written, so zero prints as "0".
            if nibble != 0 || started || shift == 0 {
                buffer[position] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
                position += 1
                started = true
            }
        }
        return position
    }
}
