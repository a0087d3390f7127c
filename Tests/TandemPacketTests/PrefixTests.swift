import TandemPacket
import Testing

@Suite("Prefix text")
struct PrefixTests {
    @Test("parses and prints IPv4 prefixes")
    func ipv4() throws {
        let prefix = try IPv4Prefix("198.18.0.0/15")
        #expect(prefix.address == IPv4Address(198, 18, 0, 0))
        #expect(prefix.length == 15)
        #expect(prefix.description == "198.18.0.0/15")
        #expect(try IPv4Prefix("0.0.0.0/0").length == 0)
        #expect(try IPv4Prefix("198.18.0.1/32").address == IPv4Address(198, 18, 0, 1))
        #expect(prefix.contains(IPv4Address(198, 19, 255, 255)))
        #expect(!prefix.contains(IPv4Address(198, 20, 0, 0)))
    }

    @Test("parses and prints IPv6 prefixes")
    func ipv6() throws {
        let prefix = try IPv6Prefix("2001:DB8::/32")
        #expect(prefix.address == v6("2001:db8::"))
        #expect(prefix.length == 32)
        #expect(prefix.description == "2001:db8::/32")
        #expect(try IPv6Prefix("::/0").length == 0)
        #expect(try IPv6Prefix("2001:db8::1/128").address == v6("2001:db8::1"))
        #expect(try IPv6Prefix("::ffff:198.18.0.0/111").description == "::ffff:198.18.0.0/111")
    }

    @Test(
        "IPv4: each rejection is its own case",
        arguments: [
            ("10.0.0.0", PrefixError.missingSlash(text: "10.0.0.0")),
            ("", .malformed(text: "", reason: "the text is empty")),
            ("10.0.0.0/33", .lengthOutOfRange(text: "10.0.0.0/33", length: 33, maximum: 32)),
            ("10.0.0.0/4294967296", .lengthOutOfRange(text: "10.0.0.0/4294967296", length: 4_294_967_296, maximum: 32)),
            (
                "10.0.0.0/99999999999999999999999",
                .lengthOutOfRange(text: "10.0.0.0/99999999999999999999999", length: Int.max, maximum: 32)
            ),
            ("10.1.2.3/8", .hostBitsSet(text: "10.1.2.3/8", correctForm: "10.0.0.0/8")),
            ("10.0.0.1/0", .hostBitsSet(text: "10.0.0.1/0", correctForm: "0.0.0.0/0")),
            ("10.0.0.0/", .invalidLength(text: "10.0.0.0/", lengthText: "")),
            ("10.0.0.0/08", .invalidLength(text: "10.0.0.0/08", lengthText: "08")),
            ("10.0.0.0/+8", .invalidLength(text: "10.0.0.0/+8", lengthText: "+8")),
            ("10.0.0.0/8 ", .invalidLength(text: "10.0.0.0/8 ", lengthText: "8 ")),
            ("10.0.0.0/8\r", .invalidLength(text: "10.0.0.0/8\r", lengthText: "8\r")),
            ("10.0.0.0/8/8", .invalidLength(text: "10.0.0.0/8/8", lengthText: "8/8")),
            (
                "10.0.0.256/8",
                .invalidAddress(
                    text: "10.0.0.256/8",
                    error: AddressParseError(text: "10.0.0.256", family: .ipv4, reason: .partTooLarge(part: 4)))
            ),
            (
                "/8",
                .invalidAddress(text: "/8", error: AddressParseError(text: "", family: .ipv4, reason: .empty))
            ),
            (
                "2001:db8::/32",
                .invalidAddress(
                    text: "2001:db8::/32",
                    error: AddressParseError(
                        text: "2001:db8::", family: .ipv4, reason: .partTooLarge(part: 1)))
            ),
        ])
    func ipv4Rejections(text: String, error: PrefixError) {
        #expect(throws: error) { try IPv4Prefix(text) }
        // The byte parser refuses all of these too, except host bits, which it reports.
        let parsed = Array(text.utf8).withUnsafeBytes { IPv4Prefix.parse(utf8: $0) }
        if case .hostBitsSet = error {
            #expect(parsed?.hostBitsSet == true)
        } else {
            #expect(parsed == nil)
        }
    }

    @Test(
        "IPv6: each rejection is its own case",
        arguments: [
            ("2001:db8::", PrefixError.missingSlash(text: "2001:db8::")),
            ("2001:db8::/129", .lengthOutOfRange(text: "2001:db8::/129", length: 129, maximum: 128)),
            ("2001:db8::1/32", .hostBitsSet(text: "2001:db8::1/32", correctForm: "2001:db8::/32")),
            ("2001:db8::/032", .invalidLength(text: "2001:db8::/032", lengthText: "032")),
            ("2001:db8::/x", .invalidLength(text: "2001:db8::/x", lengthText: "x")),
            (
                "2001:db8:::/48",
                .invalidAddress(
                    text: "2001:db8:::/48",
                    error: AddressParseError(text: "2001:db8:::", family: .ipv6, reason: .tooManyColons(offset: 8)))
            ),
            (
                "198.18.0.0/15",
                .invalidAddress(
                    text: "198.18.0.0/15",
                    error: AddressParseError(text: "198.18.0.0", family: .ipv6, reason: .tooFewGroups(count: 2)))
            ),
        ])
    func ipv6Rejections(text: String, error: PrefixError) {
        #expect(throws: error) { try IPv6Prefix(text) }
        let parsed = Array(text.utf8).withUnsafeBytes { IPv6Prefix.parse(utf8: $0) }
        if case .hostBitsSet = error {
            #expect(parsed?.hostBitsSet == true)
        } else {
            #expect(parsed == nil)
        }
    }

    @Test("messages name the prefix and what to do")
    func messages() {
        func message(_ text: String) -> String {
            do {
                _ = try IPv4Prefix(text)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(
            message("10.1.2.3/8") == "prefix '10.1.2.3/8' has host bits set after its length; write it as 10.0.0.0/8")
        #expect(message("10.0.0.0/33") == "prefix '10.0.0.0/33': length 33 is out of range (0...32)")
        #expect(
            message("10.0.0.1")
                == "prefix '10.0.0.1' has no '/length'; add the length after a slash, e.g. '10.0.0.1/32'")
        #expect(message("10.0.0.256/8") == "prefix '10.0.0.256/8': part 4 is larger than 255")
        #expect(
            message("10.0.0.0/08") == "prefix '10.0.0.0/08': length '08' is not a decimal number without leading zeros")
    }

    @Test("the byte parser reports the address as written, the length and host bits")
    func parsedPrefix() throws {
        func parse4(_ text: String) -> ParsedPrefix<IPv4Prefix>? {
            Array(text.utf8).withUnsafeBytes { IPv4Prefix.parse(utf8: $0) }
        }
        func parse6(_ text: String) -> ParsedPrefix<IPv6Prefix>? {
            Array(text.utf8).withUnsafeBytes { IPv6Prefix.parse(utf8: $0) }
        }
        let clean = try #require(parse4("198.18.0.0/15"))
        #expect(clean.address == IPv4Address(198, 18, 0, 0) && clean.length == 15 && !clean.hostBitsSet)
        #expect(clean.prefix == (try IPv4Prefix("198.18.0.0/15")))

        let dirty = try #require(parse4("10.1.2.3/8"))
        #expect(dirty.address == IPv4Address(10, 1, 2, 3) && dirty.length == 8 && dirty.hostBitsSet)
        #expect(dirty.prefix == (try IPv4Prefix("10.0.0.0/8")))

        let six = try #require(parse6("2001:db8::1/64"))
        #expect(try six.hostBitsSet && six.prefix == IPv6Prefix("2001:db8::/64"))
        #expect(parse6("::/0")?.prefix == (try IPv6Prefix("::/0")))
        #expect(parse6("::1/128")?.hostBitsSet == false)
        #expect(parse4("0.0.0.0/0")?.hostBitsSet == false)
        #expect(parse4("255.255.255.255/32")?.hostBitsSet == false)
        #expect(parse4("255.255.255.255/31")?.hostBitsSet == true)
    }

    @Test("the byte parser agrees with the throwing one on every IPv4 length and many addresses")
    func agreement() throws {
        var random = SplitMix64(seed: 15)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...32, using: &random)
            let address = IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &random))
            let text = "\(address)/\(length)"
            let parsed = try #require(Array(text.utf8).withUnsafeBytes { IPv4Prefix.parse(utf8: $0) })
            #expect(parsed.address == address && parsed.length == length)
            do {
                let prefix = try IPv4Prefix(text)
                #expect(!parsed.hostBitsSet && prefix == parsed.prefix)
            } catch {
                #expect(parsed.hostBitsSet)
                #expect(error == .hostBitsSet(text: text, correctForm: parsed.prefix.description))
            }
        }
    }
}
