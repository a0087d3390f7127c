// Parsing of IPv6 text (RFC 4291 section 2.2): eight groups of one to four hex digits, at most one `::`
// standing for one or more zero groups, and optionally a dotted-quad IPv4 tail in place of the last two
// groups (`::ffff:198.18.0.1`, `64:ff9b::198.18.0.1`).
//
// The accepted language is the one of `inet_pton(AF_INET6, ...)`: hex in either case, no zone index
// (`%eth0`), no brackets, no surrounding spaces.

extension IPv6Address {
    /// Parses IPv6 text such as `2001:db8::1` or `::ffff:198.18.0.1`.
    ///
    /// - Parameter text: The address text, with nothing before or after it.
    /// - Throws: ``AddressParseError`` with the first problem, e.g. `'1::2::3': a second '::' at position 4`.
    public init(_ text: some StringProtocol) throws(AddressParseError) {
        let result = text.withUTF8Bytes { bytes in
            Result { () throws(AddressScanFailure) in try IPv6Text.scan(bytes, from: 0, to: bytes.count) }
        }
        switch result {
        case .success(let value): self.init(rawValue: value)
        case .failure(let failure): throw AddressParseError(text: String(text), family: .ipv6, reason: failure.reason)
        }
    }

    /// Parses IPv6 text from UTF-8 bytes without allocating.
    ///
    /// - Parameter utf8: The address text and nothing else.
    /// - Returns: The address, or `nil` if the bytes are not IPv6 text (use ``init(_:)`` to learn why).
    public static func parse(utf8: UnsafeRawBufferPointer) -> IPv6Address? {
        guard let value = try? IPv6Text.scan(utf8, from: 0, to: utf8.count) else { return nil }
        return IPv6Address(rawValue: value)
    }
}

/// The IPv6 text scanner, shared by addresses and prefixes.
enum IPv6Text {
    /// Scans `bytes[start..<end]` as IPv6 text.
    ///
    /// The groups before the `::` collect in `head`, those after it in `tail`; at the end the head moves up
    /// past the zero groups the `::` stands for. One pass, no array of groups.
    ///
    /// - Parameters:
    ///   - bytes: The text.
    ///   - start: The first byte of the address.
    ///   - end: One past the last byte; the address must end exactly there.
    /// - Returns: The address in host byte order.
    /// - Throws: The first problem; offsets in it are offsets into `bytes`.
    @inline(__always)
    static func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) throws(AddressScanFailure)
        -> UInt128
    {
        guard start < end else { throw AddressScanFailure(.empty) }
        let colon = UInt8(ascii: ":")
        var head: UInt128 = 0
        var tail: UInt128 = 0
        var groups = 0  // written groups so far, an IPv4 tail counting as two
        var headGroups = 0
        var compressed = false
        var index = start

        if bytes[index] == colon {
            // Only "::" may open an address; a lone ':' leaves the first group empty.
            guard index + 1 < end, bytes[index + 1] == colon else { throw AddressScanFailure(.emptyGroup(group: 1)) }
            if index + 2 < end && bytes[index + 2] == colon { throw AddressScanFailure(.tooManyColons(offset: index)) }
            compressed = true
            index += 2
        }

        while index < end {
            let groupStart = index
            var group: UInt128 = 0
            while index < end, let nibble = hexValue(bytes[index]) {
                if index - groupStart == 4 { throw AddressScanFailure(.groupTooLong(group: groups + 1)) }
                group = group << 4 | UInt128(nibble)
                index += 1
            }
            // "::" stands for at least one group, so with it only seven may be written.
            let limit = compressed ? 7 : 8
            if index < end && bytes[index] == UInt8(ascii: ".") {
                // An IPv4 tail: rescan this group as a dotted quad that must run to the end of the text.
                let quad = try DottedQuad.scan(bytes, from: groupStart, to: end)
                if groups + 2 > limit { throw AddressScanFailure(.tooManyGroups) }
                groups += 2
                if compressed { tail = tail << 32 | UInt128(quad) } else { head = head << 32 | UInt128(quad) }
                index = end
                break
            }
            if index == groupStart {
                if index < end && bytes[index] != colon {
                    throw AddressScanFailure(.invalidCharacter(bytes[index], offset: index))
                }
                // Only reachable at a ':' that follows "::" directly, which the colon checks below catch first,
                // or at the end after a single ':' (also caught below); kept so the scanner never loops.
                throw AddressScanFailure(.emptyGroup(group: groups + 1))
            }
            if groups >= limit { throw AddressScanFailure(.tooManyGroups) }
            groups += 1
            if compressed { tail = tail << 16 | group } else { head = head << 16 | group }
            if index == end { break }
            guard bytes[index] == colon else {
                throw AddressScanFailure(.invalidCharacter(bytes[index], offset: index))
            }
            index += 1
            // A single ':' must be followed by a group.
            if index == end { throw AddressScanFailure(.emptyGroup(group: groups + 1)) }
            if bytes[index] == colon {
                if index + 1 < end && bytes[index + 1] == colon {
                    throw AddressScanFailure(.tooManyColons(offset: index - 1))
                }
                if compressed { throw AddressScanFailure(.multipleDoubleColons(offset: index - 1)) }
                compressed = true
                headGroups = groups
                index += 1
            }
        }

        if compressed {
            if groups > 7 { throw AddressScanFailure(.tooManyGroups) }
            // The head's groups move up past the zero groups; shifting by 128 (no head) yields 0.
            return head << (16 * (8 - headGroups)) | tail
        }
        guard groups == 8 else { throw AddressScanFailure(.tooFewGroups(count: groups)) }
        return head
    }

    /// The value of a hex digit in either case, or `nil`.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        let digit = byte &- UInt8(ascii: "0")
        if digit <= 9 { return digit }
        // Setting bit 5 folds 'A'...'F' onto 'a'...'f' and maps no other byte there.
        let letter = (byte | 0x20) &- UInt8(ascii: "a")
        if letter <= 5 { return letter + 10 }
        return nil
    }
}
