import TandemPacket

/// A generated stand-in for the full Internet table, used when the real one is not available:
/// the same number of prefixes per length as `full-table-2024.txt.gz` (901,899 IPv4 and
/// 160,147 IPv6), placed at random in public unicast space (IPv4 1/8...223/8 minus private and
/// special blocks; IPv6 2000::/3), seeded so every run gets the same table.
public enum SyntheticTable {
    /// Prefixes per length in the 2024 table: (length, count).
    public static let ipv4LengthMix: [(Int, Int)] = [
        (8, 16), (9, 13), (10, 38), (11, 103), (12, 299), (13, 581), (14, 1203), (15, 2100), (16, 13490),
        (17, 8235), (18, 13798), (19, 24870), (20, 42611), (21, 50750), (22, 108623), (23, 96510),
        (24, 537698), (25, 20), (26, 3), (27, 11), (28, 18), (29, 17), (30, 3), (31, 3), (32, 886),
    ]
    public static let ipv6LengthMix: [(Int, Int)] = [
        (16, 1), (19, 1), (20, 16), (21, 3), (22, 7), (23, 8), (24, 30), (25, 8), (26, 15), (27, 20), (28, 193),
        (29, 4371), (30, 650), (31, 284), (32, 22548), (33, 2926), (34, 2603), (35, 1043), (36, 5996), (37, 880),
        (38, 1617), (39, 1377), (40, 13418), (41, 903), (42, 2301), (43, 1001), (44, 14365), (45, 1553), (46, 3039),
        (47, 3153), (48, 75488), (49, 11), (50, 3), (52, 1), (55, 1), (56, 24), (58, 20), (60, 2), (64, 184),
        (112, 2), (122, 1), (124, 4), (125, 9), (126, 19), (127, 42), (128, 6),
    ]

    /// Generates the table; `scale` (0...1] keeps that share of every length (for quick tests).
    public static func generate(seed: UInt64, scale: Double = 1, reason: String) -> RouteTableData {
        var random = SplitMix64(seed: seed)
        // The sets only reject duplicates; the arrays keep generation order, so a seed always
        // gives the same table (a Set's order changes from process to process).
        var seen4 = Set<IPv4Prefix>()
        var ipv4: [IPv4Prefix] = []
        for (length, count) in ipv4LengthMix {
            let wanted = max(1, Int((Double(count) * scale).rounded()))
            var made = 0
            while made < wanted {
                let address = IPv4Address(rawValue: UInt32(truncatingIfNeeded: random.next()))
                let prefix = IPv4Prefix(normalizing: address, length: length)
                guard isPublicIPv4(prefix) else { continue }
                if seen4.insert(prefix).inserted {
                    ipv4.append(prefix)
                    made += 1
                }
            }
        }
        var seen6 = Set<IPv6Prefix>()
        var ipv6: [IPv6Prefix] = []
        for (length, count) in ipv6LengthMix {
            let wanted = max(1, Int((Double(count) * scale).rounded()))
            var made = 0
            while made < wanted {
                // Cluster like the real table: most prefixes sit under a few hundred /20s.
                let high = UInt64(0x2000 | (random.next() % 0x400) << 2) << 48 | random.next() >> 16
                let address = IPv6Address(rawValue: UInt128(high) << 64 | UInt128(random.next()))
                let prefix = IPv6Prefix(normalizing: address, length: length)
                if seen6.insert(prefix).inserted {
                    ipv6.append(prefix)
                    made += 1
                }
            }
        }
        ipv4.shuffle(using: &random)
        ipv6.shuffle(using: &random)
        return RouteTableData(ipv4: ipv4, ipv6: ipv6, origin: .synthetic(seed: seed, reason: reason))
    }

    /// Blocks that no public table routes: this network, private, shared, loopback, link
    /// local, the benchmarking range 198.18.0.0/15 that Tandem's tests use, and 224/3.
    static let specialIPv4: [(UInt32, Int)] = [
        (0x0000_0000, 8), (0x0A00_0000, 8), (0x6440_0000, 10), (0x7F00_0000, 8), (0xA9FE_0000, 16),
        (0xAC10_0000, 12), (0xC0A8_0000, 16), (0xC612_0000, 15), (0xE000_0000, 3),
    ]

    /// Whether `prefix` stays clear of every special block (neither inside one nor covering one).
    public static func isPublicIPv4(_ prefix: IPv4Prefix) -> Bool {
        !specialIPv4.contains { block, length in
            let shorter = min(length, prefix.length)
            return prefix.address.rawValue & IPv4Prefix.mask(length: shorter) == block & IPv4Prefix.mask(length: shorter)
        }
    }
}
