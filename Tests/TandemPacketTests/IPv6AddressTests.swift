import TandemPacket
import Testing

@Suite("IPv6 address text")
struct IPv6AddressTests {
    @Test(
        "prints the RFC 5952 canonical form",
        arguments: [
            // RFC 5952 section 4 and its examples.
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:0db8::0001", "2001:db8::1"),
            ("2001:db8::0:1", "2001:db8::1"),
            ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
            ("2001:db8::aaaa:0:0:1", "2001:db8::aaaa:0:0:1"),
            ("2001:DB8::ABCD", "2001:db8::abcd"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"),
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("0:0:0:0:0:0:0:0", "::"),
            ("1:0:0:0:0:0:0:0", "1::"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
            ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
            ("fe80::", "fe80::"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            // Section 5: IPv4-mapped addresses keep their dotted tail.
            ("::ffff:198.18.0.1", "::ffff:198.18.0.1"),
            ("::FFFF:c612:1", "::ffff:198.18.0.1"),
            ("0:0:0:0:0:ffff:198.18.0.1", "::ffff:198.18.0.1"),
            ("::ffff:0.0.0.0", "::ffff:0.0.0.0"),
            // Other embedded IPv4 forms parse, and print in hex (only mapped addresses print dotted).
            ("64:ff9b::198.18.0.1", "64:ff9b::c612:1"),
            ("::198.18.0.1", "::c612:1"),
            ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
            ("1::1.2.3.4", "1::102:304"),
        ])
    func canonical(text: String, canonical: String) throws {
        let address = try IPv6Address(text)
        #expect(address.description == canonical)
        // The canonical form parses back to the same address, and prints as itself.
        let reparsed = try IPv6Address(canonical)
        #expect(reparsed == address)
        #expect(reparsed.description == canonical)
        #expect(parseBytes6(text) == address)
    }

    @Test("group values land in the right place")
    func values() throws {
        #expect(try IPv6Address("2001:db8::1").rawValue == 0x2001_0db8_0000_0000_0000_0000_0000_0001)
        #expect(try IPv6Address("::ffff:198.18.0.1").rawValue == 0xFFFF_C612_0001)
        #expect(try IPv6Address("64:ff9b::198.18.0.1").rawValue == 0x0064_ff9b_0000_0000_0000_0000_c612_0001)
        #expect(try IPv6Address("1:2:3:4:5:6:7:8").rawValue == 0x0001_0002_0003_0004_0005_0006_0007_0008)
        #expect(try IPv6Address("1::8").rawValue == 0x0001_0000_0000_0000_0000_0000_0000_0008)
        #expect(IPv6Address(groups: [1, 2, 3, 4, 5, 6, 7, 8]) == (try IPv6Address("1:2:3:4:5:6:7:8")))
    }

    @Test("IPv4-mapped conversion")
    func mapped() throws {
        let v4 = IPv4Address(198, 18, 0, 1)
        let mapped = IPv6Address(ipv4Mapped: v4)
        #expect(mapped == (try IPv6Address("::ffff:198.18.0.1")))
        #expect(mapped.ipv4Mapped == v4)
        #expect((try IPv6Address("64:ff9b::198.18.0.1")).ipv4Mapped == nil)
    }

    @Test(
        "rejects each malformed form with its reason",
        arguments: [
            ("", AddressParseError.Reason.empty),
            (":::", .tooManyColons(offset: 0)),
            ("1:::2", .tooManyColons(offset: 1)),
            ("1::2:::3", .tooManyColons(offset: 4)),
            ("1::2::3", .multipleDoubleColons(offset: 4)),
            ("::1::", .multipleDoubleColons(offset: 3)),
            ("1:2:3:4:5:6:7:8:9", .tooManyGroups),
            ("1:2:3:4:5:6:7:8::", .tooManyGroups),
            ("::1:2:3:4:5:6:7:8", .tooManyGroups),
            ("1:2:3:4::5:6:7:8", .tooManyGroups),
            ("1:2:3:4:5:6:7:1.2.3.4", .tooManyGroups),
            ("1:2:3:4:5::6:1.2.3.4", .tooManyGroups),
            ("1:2:3:4:5:6:7", .tooFewGroups(count: 7)),
            ("1", .tooFewGroups(count: 1)),
            ("1.2.3.4", .tooFewGroups(count: 2)),
            ("1:2:3:4:5:1.2.3.4", .tooFewGroups(count: 7)),
            (":1::", .emptyGroup(group: 1)),
            (":", .emptyGroup(group: 1)),
            ("1::2:", .emptyGroup(group: 3)),
            ("1:2:3:4:5:6:7:", .emptyGroup(group: 8)),
            ("12345::", .groupTooLong(group: 1)),
            ("::0ffff", .groupTooLong(group: 1)),
            ("1:00000:3:4:5:6:7:8", .groupTooLong(group: 2)),
            ("2001:db8::g", .invalidCharacter(UInt8(ascii: "g"), offset: 10)),
            ("fe80::1%eth0", .invalidCharacter(UInt8(ascii: "%"), offset: 7)),
            ("[::1]", .invalidCharacter(UInt8(ascii: "["), offset: 0)),
            (" ::1", .invalidCharacter(UInt8(ascii: " "), offset: 0)),
            ("::1 ", .invalidCharacter(UInt8(ascii: " "), offset: 3)),
            ("1:-2::", .invalidCharacter(UInt8(ascii: "-"), offset: 2)),
            // Problems in the embedded IPv4 tail use the dotted-quad reasons.
            ("::ffff:198.18.0.256", .partTooLarge(part: 4)),
            ("::ffff:198.018.0.1", .leadingZero(part: 2)),
            ("::ffff:198..0.1", .emptyPart(part: 2)),
            ("::ffff:198.18.0", .tooFewParts(count: 3)),
            ("::ffff:1.2.3.4.5", .tooManyParts),
            ("::1.2.3.4:5", .invalidCharacter(UInt8(ascii: ":"), offset: 9)),
            ("::a1.2.3.4", .invalidCharacter(UInt8(ascii: "a"), offset: 2)),
        ])
    func rejects(text: String, reason: AddressParseError.Reason) {
        #expect(throws: AddressParseError(text: text, family: .ipv6, reason: reason)) { try IPv6Address(text) }
        #expect(parseBytes6(text) == nil)
    }

    @Test("error messages say what is wrong and where")
    func messages() {
        func message(_ text: String) -> String {
            do {
                _ = try IPv6Address(text)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(message("1::2::3") == "'1::2::3': a second '::' at position 5; only one is allowed")
        #expect(
            message("::ffff:1.2.3.256") == "'::ffff:1.2.3.256': part 4 of the embedded IPv4 address is larger than 255")
        #expect(
            message("1:2:3") == "'1:2:3': an IPv6 address has eight groups or a '::', this has 3 groups and no '::'")
        #expect(message("::ffff:1.2.3") == "'::ffff:1.2.3': the embedded IPv4 address has 3 parts, not four")
        #expect(message("12345::") == "'12345::': group 1 has more than four hex digits")
        // A megabyte of text does not become a megabyte of message.
        #expect(message(String(repeating: "1", count: 1_000_000)).utf8.count < 200)
    }
}

/// The byte parser on `text`.
func parseBytes6(_ text: String) -> IPv6Address? {
    Array(text.utf8).withUnsafeBytes { IPv6Address.parse(utf8: $0) }
}
