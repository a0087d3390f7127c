/// An address as the tables see it: an unsigned integer whose most significant bit is the
/// first bit of the address (UInt32 for IPv4, UInt128 for IPv6).
public protocol LPMKey: FixedWidthInteger & UnsignedInteger & Sendable {}

extension UInt32: LPMKey {}
extension UInt128: LPMKey {}

extension LPMKey {
    /// The six bits of `self` that start at bit `depth` (counted from the most significant bit),
    /// as 0...63; bits past the end of the key read as zero. Shifts wrap instead of trapping so
    /// that a reader following a stale index can never crash.
    @inline(__always)
    func sixBits(at depth: Int) -> Int {
        Int(truncatingIfNeeded: (self &<< depth) &>> (Self.bitWidth - 6))
    }

    /// `self` with every bit after the first `length` bits cleared.
    @inline(__always)
    func masked(to length: Int) -> Self {
        length == 0 ? 0 : self & (~Self(0) &<< (Self.bitWidth - length))
    }
}
