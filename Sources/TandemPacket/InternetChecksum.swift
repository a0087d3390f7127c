/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
public enum InternetChecksum {
    /// The one's complement sum of `bytes` as big-endian 16-bit words, folded to 16 bits and not
    /// complemented. An odd last byte counts as the high byte of a word padded with zero.
    ///
    /// The words are summed 64 bits at a time in native byte order and swapped once at the end: the one's
    /// complement sum does not depend on byte order except for that swap (RFC 1071 section 2 (B)), and
    /// the end-around carry keeps every carry.
    ///
    /// - Parameter bytes: The data. When summing a message in pieces, every piece but the last must have an
    ///   even length, or the words of the next one are misaligned.
    /// - Returns: The folded sum; 0xFFFF (not 0) for non-zero data whose sum is a multiple of 0xFFFF, as
    ///   16-bit end-around-carry addition gives.
    public static func sum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var accumulator: UInt64 = 0
        var index = 0
        let count = bytes.count
        while count - index >= 8 {
            let (sum, carry) = accumulator.addingReportingOverflow(
                bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            accumulator = sum &+ (carry ? 1 : 0)
            index += 8
        }
        if index < count {
            // Copying the rest into a zeroed word keeps memory order, so the padding lands where RFC 1071 puts it.
            var rest: UInt64 = 0
            withUnsafeMutableBytes(of: &rest) { $0.copyMemory(from: bytes.slice(index..<count)) }
            let (sum, carry) = accumulator.addingReportingOverflow(rest)
            accumulator = sum &+ (carry ? 1 : 0)
        }
        // 2^16 ≡ 1 modulo 0xFFFF, so folding the halves keeps the sum; two folds per step absorb the carries.
        var folded = (accumulator >> 32) + (accumulator & 0xFFFF_FFFF)
        folded = (folded >> 32) + (folded & 0xFFFF_FFFF)
        folded = (folded >> 16) + (folded & 0xFFFF)
        folded = (folded >> 16) + (folded & 0xFFFF)
        return UInt16(bigEndian: UInt16(truncatingIfNeeded: folded))
    }

    /// The Internet checksum of `bytes`: the complement of ``sum(_:)``. Compute it with the checksum field
    /// set to zero and store it big-endian.
    ///
    /// - Parameter bytes: The data.
    /// - Returns: The checksum.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        ~sum(bytes)
    }

    /// Adds two folded sums with end-around carry, e.g. a pseudo-header's and a segment's.
    ///
    /// - Parameters:
    ///   - a: A folded sum.
    ///   - b: Another folded sum.
    /// - Returns: Their one's complement sum.
    public static func add(_ a: UInt16, _ b: UInt16) -> UInt16 {
        let (sum, carry) = a.addingReportingOverflow(b)
        return sum &+ (carry ? 1 : 0)
    }

    /// The checksum after one 16-bit word of the data changed, by RFC 1624 equation 3:
    /// `HC' = ~(~HC + ~m + m')`.
    ///
    /// Equation 3, not the older `HC' = HC - ~m - m'` of RFC 1141, because the older one can produce 0xFFFF
    /// where a full recomputation gives 0x0000 (RFC 1624 section 3); equation 3 always equals a full
    /// recomputation.
    ///
    /// - Parameters:
    ///   - checksum: The checksum before the change (`HC`).
    ///   - oldValue: The word before the change (`m`).
    ///   - newValue: The word after the change (`m'`).
    /// - Returns: The checksum after the change (`HC'`).
    @inlinable
    public static func update(_ checksum: UInt16, oldValue: UInt16, newValue: UInt16) -> UInt16 {
        var sum = UInt32(~checksum) + UInt32(~oldValue) + UInt32(newValue)
        sum = (sum & 0xFFFF) + (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16)
        return ~UInt16(truncatingIfNeeded: sum)
    }
}
