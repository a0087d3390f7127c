import TandemPacket
import Testing

@Suite("IPv4 address text")
struct IPv4AddressTests {
    @Test(
        "parses and prints dotted quads",
        arguments: [
            ("0.0.0.0", 0x0000_0000 as UInt32), ("255.255.255.255", 0xFFFF_FFFF), ("198.18.0.1", 0xC612_0001),
            ("10.0.0.0", 0x0A00_0000), ("1.2.3.4", 0x0102_0304), ("100.64.10.200", 0x6440_0AC8),
        ])
    func roundTrip(text: String, value: UInt32) throws {
        let address = try IPv4Address(text)
        #expect(address.rawValue == value)
        #expect(address.description == text)
        #expect(IPv4Address(rawValue: value).description == text)
        #expect(parseBytes(text) == address)
    }

    @Test("accepts substrings and non-String text")
    func substrings() throws {
        let line = "route 198.18.0.1 via x"
        let slice = line.split(separator: " ")[1]
        #expect(try IPv4Address(slice) == IPv4Address(198, 18, 0, 1))
    }

    @Test(
        "rejects each malformed form with its reason",
        arguments: [
            ("", AddressParseError.Reason.empty),
            ("10.0.0.256", .partTooLarge(part: 4)),
            ("300.0.0.1", .partTooLarge(part: 1)),
            ("1.2.3.99999999999999999999", .partTooLarge(part: 4)),
            ("10.01.0.1", .leadingZero(part: 2)),
            ("00.0.0.0", .leadingZero(part: 1)),
            ("10..0.1", .emptyPart(part: 2)),
            (".1.2.3", .emptyPart(part: 1)),
            ("1.2.3.", .emptyPart(part: 4)),
            ("10.1", .tooFewParts(count: 2)),
            ("10", .tooFewParts(count: 1)),
            ("1.2.3.4.5", .tooManyParts),
            ("1.2.3.4.", .tooManyParts),
            ("+1.2.3.4", .invalidCharacter(UInt8(ascii: "+"), offset: 0)),
            (" 1.2.3.4", .invalidCharacter(UInt8(ascii: " "), offset: 0)),
            ("1.2.3.4 ", .invalidCharacter(UInt8(ascii: " "), offset: 7)),
            ("1.2.3.4\r", .invalidCharacter(0x0D, offset: 7)),
            ("1.2.-3.4", .invalidCharacter(UInt8(ascii: "-"), offset: 4)),
            ("0x1.2.3.4", .invalidCharacter(UInt8(ascii: "x"), offset: 1)),
            ("1.2.3.a", .invalidCharacter(UInt8(ascii: "a"), offset: 6)),
            ("::1", .invalidCharacter(UInt8(ascii: ":"), offset: 0)),
        ])
    func rejects(text: String, reason: AddressParseError.Reason) {
        #expect(throws: AddressParseError(text: text, family: .ipv4, reason: reason)) { try IPv4Address(text) }
        #expect(parseBytes(text) == nil)
    }

    @Test("error messages say what is wrong and where")
    func messages() {
        func message(_ text: String) -> String {
            do {
                _ = try IPv4Address(text)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(message("10.0.0.256") == "'10.0.0.256': part 4 is larger than 255")
        #expect(message("10.1") == "'10.1': an IPv4 address has four parts, this has 2")
        #expect(message("1.2.3.4 ") == "'1.2.3.4 ': unexpected space at position 8")
        #expect(message("1.2.3.4\r") == "'1.2.3.4\r': unexpected byte 0x0D at position 8")
        #expect(message("1.2.3.x") == "'1.2.3.x': unexpected character 'x' at position 7")
        #expect(message("10.01.0.1").hasPrefix("'10.01.0.1': part 2 has a leading zero"))
        #expect(message("").contains("cannot be empty"))
    }

    @Test("every byte value in every position either parses like the reference or is refused")
    func everyByte() {
        // One byte replaced at each position of a valid address: the parser must agree with a reference that
        // knows only the rules (digits and dots, four parts, 0...255, no leading zeros).
        let base = Array("198.18.100.254".utf8)
        for position in base.indices {
            for byte in UInt8.min...UInt8.max {
                var text = base
                text[position] = byte
                let parsed = text.withUnsafeBytes { IPv4Address.parse(utf8: $0) }
                #expect(parsed?.rawValue == referenceIPv4(text), "\(text)")
            }
        }
    }
}

/// The byte parser on `text`.
func parseBytes(_ text: String) -> IPv4Address? {
    Array(text.utf8).withUnsafeBytes { IPv4Address.parse(utf8: $0) }
}

/// A slow reference for dotted quads, written from the rules rather than the parser.
func referenceIPv4(_ text: [UInt8]) -> UInt32? {
    let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var value: UInt32 = 0
    for part in parts {
        guard !part.isEmpty, part.count <= 3, part.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        if part.count > 1 && part.first == UInt8(ascii: "0") { return nil }
        let number = part.reduce(0) { $0 * 10 + UInt32($1 - 0x30) }
        guard number <= 255 else { return nil }
        value = value << 8 | number
    }
    return value
}
