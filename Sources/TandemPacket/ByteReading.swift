// Big-endian reads from packet bytes and stores into packet buffers: the one place for them, used by the
// header views here and by the modules that write packets (the dataplane's ICMP errors and fragments, the
// traffic generator, the capture reader).
//
// Packets are in network byte order and come at any alignment (a TUN read can start at any offset in a
// batch buffer), so every read is `loadUnaligned` followed by a byte-order conversion. None of these check
// bounds: the views check them once when they are made, and writers check the output size once before they
// write.

extension UnsafeRawBufferPointer {
    /// The byte at `offset`.
    @inlinable @inline(__always)
    public func uint8(at offset: Int) -> UInt8 {
        load(fromByteOffset: offset, as: UInt8.self)
    }

    /// The big-endian 16-bit value at `offset`.
    @inlinable @inline(__always)
    public func bigEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// The big-endian 32-bit value at `offset`.
    @inlinable @inline(__always)
    public func bigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The big-endian 128-bit value at `offset`, read as two 64-bit halves (the layout of `UInt128` in
    /// memory is not something to rely on for a byte swap).
    @inlinable @inline(__always)
    public func bigEndianUInt128(at offset: Int) -> UInt128 {
        let high = UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        let low = UInt64(bigEndian: loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        return UInt128(high) << 64 | UInt128(low)
    }

    /// The bytes `range`, as a buffer that starts at index 0.
    @inlinable @inline(__always)
    public func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}

extension UnsafeMutableRawBufferPointer {
    /// The big-endian 16-bit value at `offset`.
    @inlinable @inline(__always)
    public func bigEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Stores `value` at `offset`.
    @inlinable @inline(__always)
    public func storeByte(_ value: UInt8, at offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    /// Stores `value` big-endian at `offset`.
    @inlinable @inline(__always)
    public func storeBigEndian(_ value: UInt16, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// Stores `value` big-endian at `offset`.
    @inlinable @inline(__always)
    public func storeBigEndian(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Stores `value` big-endian at `offset`, as two 64-bit halves.
    @inlinable @inline(__always)
    public func storeBigEndian(_ value: UInt128, at offset: Int) {
        storeBytes(of: UInt64(truncatingIfNeeded: value >> 64).bigEndian, toByteOffset: offset, as: UInt64.self)
        storeBytes(of: UInt64(truncatingIfNeeded: value).bigEndian, toByteOffset: offset + 8, as: UInt64.self)
    }

    /// Copies `bytes` to `offset`.
    @inlinable @inline(__always)
    public func copy(_ bytes: UnsafeRawBufferPointer, to offset: Int) {
        UnsafeMutableRawBufferPointer(rebasing: self[offset..<offset + bytes.count]).copyMemory(from: bytes)
    }

    /// The bytes `range`, read-only, as a buffer that starts at index 0 (for checksums over what was written).
    @inlinable @inline(__always)
    public func readOnly(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}
