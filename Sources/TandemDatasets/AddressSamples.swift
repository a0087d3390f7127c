import TandemPacket

/// Addresses to look up, drawn the way the benchmarks and differential tests need them.
public enum AddressSamples {
    /// `count` addresses, each inside a prefix picked uniformly from `prefixes` (random host bits).
    public static func inside<P: IPPrefix>(_ prefixes: [P], count: Int, seed: UInt64) -> [P.Address] {
        precondition(!prefixes.isEmpty)
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let prefix = prefixes[Int(random.next() % UInt64(prefixes.count))]
            let host = randomRaw(P.Address.RawValue.self, &random) & ~P.mask(length: prefix.length)
            return P.Address(rawValue: prefix.address.rawValue | host)
        }
    }

    /// A prefix's first and last address, then the addresses just before and after it, as host prefixes (/32,
    /// /128): where a table that aggregates or splits prefixes must still answer as the prefixes do.
    public static func edges(of prefix: RoutePrefix) -> [RoutePrefix] {
        switch prefix {
        case .v4(let p): edges(of: p).map { .v4(IPv4Prefix(normalizing: $0, length: 32)) }
        case .v6(let p): edges(of: p).map { .v6(IPv6Prefix(normalizing: $0, length: 128)) }
        }
    }

    static func edges<P: IPPrefix>(of prefix: P) -> [P.Address] {
        let first = prefix.address.rawValue
        let last = first | ~P.mask(length: prefix.length)
        return [first, last, first &- 1, last &+ 1].map(P.Address.init(rawValue:))
    }

    /// `count` uniformly random IPv4 addresses.
    public static func uniformIPv4(count: Int, seed: UInt64) -> [IPv4Address] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in IPv4Address(rawValue: UInt32(truncatingIfNeeded: random.next())) }
    }

    /// `count` uniformly random IPv6 addresses inside 2000::/3 (global unicast).
    public static func uniformIPv6GlobalUnicast(count: Int, seed: UInt64) -> [IPv6Address] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let raw = UInt128(random.next()) << 64 | UInt128(random.next())
            return IPv6Address(rawValue: raw >> 3 | UInt128(1) << 125)
        }
    }

    static func randomRaw<R: FixedWidthInteger>(_: R.Type, _ random: inout SplitMix64) -> R {
        var value = R(truncatingIfNeeded: random.next())
        var bits = 64
        while bits < R.bitWidth {
            value = value << 64 | R(truncatingIfNeeded: random.next())
            bits += 64
        }
        return value
    }
}
