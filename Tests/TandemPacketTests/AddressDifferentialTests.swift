#if canImport(Glibc)
    import Glibc
    import TandemPacket
    import Testing

    /// The parsers and printers against the C library's `inet_pton` and `inet_ntop`, on random text built from
    /// the characters that matter. glibc follows the same rules (no leading zeros in a dotted quad, at most four
    /// hex digits per group, one `::`, an IPv4 tail only in the last 32 bits), so any disagreement is a bug in
    /// one of the two, and glibc's has had decades of use.
    @Suite("Addresses against glibc")
    struct AddressDifferentialTests {
        @Test("IPv4 parsing agrees with inet_pton on random text")
        func ipv4Parsing() {
            var random = SplitMix64(seed: 0x1D4)
            let alphabet = Array("0123456789....12x ".utf8)
            for _ in 0..<100_000 {
                let length = Int.random(in: 0...17, using: &random)
                let text = random.bytes(length, from: alphabet)
                let ours = text.withUnsafeBytes { IPv4Address.parse(utf8: $0) }
                #expect(ours?.rawValue == glibcIPv4(text), "\(String(decoding: text, as: UTF8.self))")
            }
        }

        @Test("IPv6 parsing agrees with inet_pton on random text")
        func ipv6Parsing() {
            var random = SplitMix64(seed: 0x1D6)
            // Colons and zeros weighted up, so that "::" and short groups come often; dots for IPv4 tails.
            let alphabet = Array("0123456789abcdefABCDEF::::::::0000....ffg".utf8)
            var accepted = 0
            for _ in 0..<100_000 {
                let length = Int.random(in: 0...41, using: &random)
                let text = random.bytes(length, from: alphabet)
                let ours = text.withUnsafeBytes { IPv6Address.parse(utf8: $0) }
                let theirs = glibcIPv6(text)
                #expect(ours?.rawValue == theirs, "\(String(decoding: text, as: UTF8.self))")
                if ours != nil { accepted += 1 }
            }
            // The generator must reach the accepting side too, or the comparison proves little.
            #expect(accepted > 500)
        }

        @Test("IPv6 parsing agrees with inet_pton on mutations of valid addresses")
        func ipv6Mutations() {
            var random = SplitMix64(seed: 0x5952)
            let alphabet = Array("0123456789abcdef:.".utf8)
            for _ in 0..<50_000 {
                var text = Array(randomIPv6(using: &random).description.utf8)
                if Bool.random(using: &random) {
                    text = Array(
                        "::ffff:\(IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &random)))".utf8)
                }
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    let position = Int.random(in: 0...text.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0 where position < text.count: text.remove(at: position)
                    case 1: text.insert(alphabet.randomElement(using: &random)!, at: position)
                    default: if position < text.count { text[position] = alphabet.randomElement(using: &random)! }
                    }
                }
                let ours = text.withUnsafeBytes { IPv6Address.parse(utf8: $0) }
                #expect(ours?.rawValue == glibcIPv6(text), "\(String(decoding: text, as: UTF8.self))")
            }
        }

        @Test("IPv6 printing agrees with inet_ntop")
        func ipv6Printing() throws {
            var random = SplitMix64(seed: 0x6B)
            for _ in 0..<50_000 {
                let address = randomIPv6(using: &random)
                // glibc also prints IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291) with a dotted
                // tail; RFC 5952 does not ask for that and Tandem prints them in hex.
                if address.rawValue >> 32 == 0 && address.rawValue >> 16 != 0 { continue }
                #expect(address.description == glibcText(address), "\(address.rawValue)")
                #expect(try IPv6Address(address.description) == address)
            }
        }

        @Test("IPv4 printing agrees with inet_ntop and parses back")
        func ipv4Printing() throws {
            var random = SplitMix64(seed: 0x44)
            for _ in 0..<50_000 {
                let address = IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &random))
                var raw = in_addr(s_addr: address.rawValue.bigEndian)
                var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                let text = buffer.withUnsafeMutableBufferPointer { out in
                    String(cString: inet_ntop(AF_INET, &raw, out.baseAddress, socklen_t(out.count))!)
                }
                #expect(address.description == text)
                #expect(try IPv4Address(text) == address)
            }
        }
    }

    /// A random address whose groups are often zero, so that runs of every length and position occur.
    func randomIPv6(using random: inout SplitMix64) -> IPv6Address {
        var value: UInt128 = 0
        let zeroChance = Int.random(in: 0...4, using: &random)
        for _ in 0..<8 {
            let group: UInt16 =
                Int.random(in: 0..<5, using: &random) < zeroChance
                ? 0
                : UInt16.random(in: 0...UInt16.max, using: &random) >> (UInt16.random(in: 0...3, using: &random) * 4)
            value = value << 16 | UInt128(group)
        }
        return IPv6Address(rawValue: value)
    }

    func glibcIPv4(_ text: [UInt8]) -> UInt32? {
        var raw = in_addr()
        let ok = (text + [0]).withUnsafeBufferPointer { chars in
            chars.withMemoryRebound(to: CChar.self) { inet_pton(AF_INET, $0.baseAddress, &raw) }
        }
        return ok == 1 ? UInt32(bigEndian: raw.s_addr) : nil
    }

    func glibcIPv6(_ text: [UInt8]) -> UInt128? {
        var raw = in6_addr()
        let ok = (text + [0]).withUnsafeBufferPointer { chars in
            chars.withMemoryRebound(to: CChar.self) { inet_pton(AF_INET6, $0.baseAddress, &raw) }
        }
        guard ok == 1 else { return nil }
        return withUnsafeBytes(of: &raw) { bytes in bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) } }
    }

    func glibcText(_ address: IPv6Address) -> String {
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { bytes in
            for index in 0..<16 {
                bytes[index] = UInt8(truncatingIfNeeded: address.rawValue >> UInt128(120 - 8 * index))
            }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        return buffer.withUnsafeMutableBufferPointer { out in
            String(cString: inet_ntop(AF_INET6, &raw, out.baseAddress, socklen_t(out.count))!)
        }
    }
#endif
