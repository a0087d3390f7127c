// Big-endian stores into packet buffers the dataplane writes (ICMP errors, fragments).
//
// TandemPacket's byte readers and writers are internal to that module, and its views only read, so the few
// stores the dataplane needs live here. Like TandemPacket's, they do not check bounds: every caller checks the
// output size once before it writes.

extension UnsafeMutableRawBufferPointer {
    /// Stores `value` at `offset`.
    @inline(__always)
    func storeByte(_ value: UInt8, at offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    /// Stores `value` big-endian at `offset`.
    @inline(__always)
    func storeBigEndian(_ value: UInt16, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// Stores `value` big-endian at `offset`.
    @inline(__always)
    func storeBigEndian(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Stores `value` big-endian at `offset`, as two 64-bit halves.
    @inline(__always)
    func storeBigEndian(_ value: UInt128, at offset: Int) {
        storeBytes(of: UInt64(truncatingIfNeeded: value >> 64).bigEndian, toByteOffset: offset, as: UInt64.self)
        storeBytes(of: UInt64(truncatingIfNeeded: value).bigEndian, toByteOffset: offset + 8, as: UInt64.self)
    }

    /// Copies `bytes` to `offset`.
    @inline(__always)
    func copy(_ bytes: UnsafeRawBufferPointer, to offset: Int) {
        UnsafeMutableRawBufferPointer(rebasing: self[offset..<offset + bytes.count]).copyMemory(from: bytes)
    }

    /// The bytes `range`, read-only, as a buffer that starts at index 0 (for checksums over what was written).
    @inline(__always)
    func readOnly(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}
