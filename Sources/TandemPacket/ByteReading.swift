// Big-endian reads from packet bytes.
//
// Packets are in network byte order and come at any alignment (a TUN read can start at any offset in a
// batch buffer), so every read is `loadUnaligned` followed by a byte-order conversion. The views check
// bounds once when they are made; these readers then read without checking again.

extension UnsafeRawBufferPointer {
    /// The byte at `offset`.
    @inline(__always)
    func uint8(at offset: Int) -> UInt8 {
        load(fromByteOffset: offset, as: UInt8.self)
    }

    /// The big-endian 16-bit value at `offset`.
    @inline(__always)
    func bigEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// The big-endian 32-bit value at `offset`.
    @inline(__always)
    func bigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The big-endian 128-bit value at `offset`, read as two 64-bit halves (the layout of `UInt128` in
    /// memory is not something to rely on for a byte swap).
    @inline(__always)
    func bigEndianUInt128(at offset: Int) -> UInt128 {
        let high = UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        let low = UInt64(bigEndian: loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        return UInt128(high) << 64 | UInt128(low)
    }

    /// The bytes `range`, as a buffer that starts at index 0.
    @inline(__always)
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}

extension UnsafeMutableRawBufferPointer {
    /// The big-endian 16-bit value at `offset`.
    @inline(__always)
    func bigEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Stores `value` big-endian at `offset`.
    @inline(__always)
    func storeBigEndian(_ value: UInt16, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }
}
