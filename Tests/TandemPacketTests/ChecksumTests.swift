import TandemPacket
import Testing

@Suite("Internet checksum")
struct ChecksumTests {
    @Test("RFC 1071 section 3 example: the sum of 00 01 f2 03 f4 f5 f6 f7 is ddf2")
    func rfc1071Example() {
        ([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7] as [UInt8]).withUnsafeBytes { raw in
            #expect(InternetChecksum.sum(raw) == 0xDDF2)
            #expect(InternetChecksum.checksum(raw) == 0x220D)
        }
    }

    @Test("agrees with a 16-bit reference on every length 0...300 and every alignment")
    func reference() {
        var random = SplitMix64(seed: 1071)
        // Extra bytes in front, so that the data starts at every offset modulo 8.
        let storage = random.bytes(320)
        for length in 0...300 {
            for start in 0..<8 {
                let data = Array(storage[start..<start + length])
                storage.withUnsafeBytes { raw in
                    let view = UnsafeRawBufferPointer(rebasing: raw[start..<start + length])
                    #expect(InternetChecksum.checksum(view) == referenceChecksum(data), "length \(length) at \(start)")
                }
            }
        }
    }

    @Test("all ones and all zeros")
    func extremes() {
        for length in [0, 1, 2, 7, 8, 9, 64, 65] {
            [UInt8](repeating: 0, count: length).withUnsafeBytes { raw in
                #expect(InternetChecksum.sum(raw) == 0)
                #expect(InternetChecksum.checksum(raw) == 0xFFFF)
            }
            // Non-zero data whose sum is a multiple of 0xFFFF sums to 0xFFFF (negative zero), as end-around
            // carry addition gives; never to 0.
            if length >= 2 {
                [UInt8](repeating: 0xFF, count: length / 2 * 2).withUnsafeBytes { raw in
                    #expect(InternetChecksum.sum(raw) == 0xFFFF)
                }
            }
        }
    }

    @Test("sums of pieces add up to the sum of the whole")
    func pieces() {
        var random = SplitMix64(seed: 9)
        for _ in 0..<1000 {
            let data = random.bytes(Int.random(in: 2...200, using: &random))
            let cut = Int.random(in: 0...(data.count / 2), using: &random) * 2
            data.withUnsafeBytes { raw in
                let whole = InternetChecksum.sum(raw)
                let parts = InternetChecksum.add(
                    InternetChecksum.sum(UnsafeRawBufferPointer(rebasing: raw[..<cut])),
                    InternetChecksum.sum(UnsafeRawBufferPointer(rebasing: raw[cut...])))
                #expect(whole == parts)
            }
        }
    }

    @Test("RFC 1624 section 4 example: equation 3 gives 0x0000 where equation 2 gives 0xFFFF")
    func rfc1624Example() {
        #expect(InternetChecksum.update(0xDD2F, oldValue: 0x5555, newValue: 0x3285) == 0x0000)
    }

    @Test("the incremental update equals a full recomputation for every TTL 1...255 on random headers")
    func ttlUpdate() {
        var random = SplitMix64(seed: 1624)
        for ttl in UInt8(1)...255 {
            for _ in 0..<40 {
                let header = randomHeader(ttl: ttl, using: &random)
                let oldWord = header.get16(at: 8)
                var recomputed = header
                recomputed[8] = ttl - 1
                recomputed.set16(0, at: 10)
                let full = referenceChecksum(recomputed)
                let incremental = InternetChecksum.update(
                    header.get16(at: 10), oldValue: oldWord, newValue: recomputed.get16(at: 8))
                #expect(incremental == full, "ttl \(ttl) header \(header)")
            }
        }
    }

    @Test("decrementTTL rewrites TTL and checksum in place, for every TTL 2...255 on random headers")
    func decrementTTL() {
        var random = SplitMix64(seed: 64)
        for ttl in UInt8(2)...255 {
            for _ in 0..<40 {
                var packet = randomHeader(ttl: ttl, using: &random)
                let result = packet.withUnsafeMutableBytes { IPv4Header.decrementTTL($0) }
                #expect(result == .decremented(to: ttl - 1))
                #expect(packet[8] == ttl - 1)
                #expect(verify(packet), "ttl \(ttl)")
            }
        }
    }

    @Test("the checksum corner cases of RFC 1624: a new checksum of 0x0000 and an old one of 0x0000")
    func corners() {
        var random = SplitMix64(seed: 0xFFFF)
        for ttl in UInt8(2)...255 {
            // A header whose checksum after the decrement must be 0x0000: choose the identification so that the
            // decremented header, checksum field zero, sums to 0xFFFF.
            var after = randomHeader(ttl: ttl - 1, using: &random)
            after.set16(0, at: 4)
            after.set16(0, at: 10)
            after.set16(referenceChecksum(after), at: 4)  // the complement of the sum without it completes 0xFFFF
            #expect(referenceChecksum(after) == 0x0000)
            var before = after
            before[8] = ttl
            before.set16(referenceChecksum(before), at: 10)
            let result = before.withUnsafeMutableBytes { IPv4Header.decrementTTL($0) }
            #expect(result == .decremented(to: ttl - 1))
            #expect(before.get16(at: 10) == 0x0000, "ttl \(ttl)")
            #expect(verify(before))

            // A header whose checksum before the decrement is 0x0000.
            var zero = randomHeader(ttl: ttl, using: &random)
            zero.set16(0, at: 4)
            zero.set16(0, at: 10)
            zero.set16(referenceChecksum(zero), at: 4)
            #expect(referenceChecksum(zero) == 0x0000)
            var expected = zero
            expected[8] = ttl - 1
            let full = referenceChecksum(expected)
            _ = zero.withUnsafeMutableBytes { IPv4Header.decrementTTL($0) }
            #expect(zero.get16(at: 10) == full)
            #expect(verify(zero))
        }
    }

    @Test("TTL 0 and 1 expire and leave the packet as it was; short buffers are refused")
    func expiry() {
        for ttl: UInt8 in [0, 1] {
            var random = SplitMix64(seed: UInt64(ttl))
            let original = randomHeader(ttl: ttl, using: &random)
            var packet = original
            #expect(packet.withUnsafeMutableBytes { IPv4Header.decrementTTL($0) } == .expired)
            #expect(packet == original)
        }
        var short = [UInt8](repeating: 0x45, count: 19)
        #expect(short.withUnsafeMutableBytes { IPv4Header.decrementTTL($0) } == .truncated)
        #expect(short == [UInt8](repeating: 0x45, count: 19))
    }

    @Test("the IPv6 hop limit decrements without a checksum; 0 and 1 expire")
    func hopLimit() throws {
        for limit in UInt8.min...UInt8.max {
            var builder = IPv6Builder([], then: .udp, udpDatagram(source: 1, destination: 2))
            builder.hopLimit = limit
            let original = builder.build()
            var packet = original
            let result = packet.withUnsafeMutableBytes { IPv6Header.decrementHopLimit($0) }
            if limit <= 1 {
                #expect(result == .expired && packet == original)
            } else {
                #expect(result == .decremented(to: limit - 1))
                var expected = original
                expected[7] = limit - 1
                #expect(packet == expected)
            }
        }
        var short = [UInt8](repeating: 0x60, count: 39)
        #expect(short.withUnsafeMutableBytes { IPv6Header.decrementHopLimit($0) } == .truncated)
    }
}

/// A random IPv4 header (options included, sometimes) with `ttl` and a correct checksum.
private func randomHeader(ttl: UInt8, using random: inout SplitMix64) -> [UInt8] {
    var builder = IPv4Builder()
    builder.typeOfService = UInt8.random(in: 0...255, using: &random)
    builder.identification = UInt16.random(in: 0...UInt16.max, using: &random)
    builder.dontFragment = Bool.random(using: &random)
    builder.ttl = ttl
    builder.proto = IPProtocol(rawValue: UInt8.random(in: 0...255, using: &random))
    builder.source = IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &random))
    builder.destination = IPv4Address(rawValue: UInt32.random(in: 0...UInt32.max, using: &random))
    builder.options = random.bytes(Int.random(in: 0...10, using: &random) * 4)
    return builder.build()
}

/// Whether the header at the start of `packet` has a correct checksum, by the view and by the reference.
private func verify(_ packet: [UInt8]) -> Bool {
    let headerLength = Int(packet[0] & 0x0F) * 4
    let byView = packet.withUnsafeBytes { raw in (try? IPv4Header(raw))?.isChecksumValid ?? false }
    return byView && referenceChecksum(Array(packet[..<headerLength])) == 0
}
