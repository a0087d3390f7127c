/// SplitMix64 (Steele, Lea, Flood 2014): a small seeded generator, so that the random tests run the same
/// inputs every time and a failure can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SplitMix64 {
    /// `count` random bytes, drawn from `alphabet` if given.
    mutating func bytes(_ count: Int, from alphabet: [UInt8]? = nil) -> [UInt8] {
        (0..<count).map { _ in
            if let alphabet { return alphabet[Int.random(in: 0..<alphabet.count, using: &self)] }
            return UInt8(truncatingIfNeeded: next())
        }
    }
}
