// Reading a fuzz input as a sequence of small decisions and byte strings, the way LLVM's FuzzedDataProvider does:
// a target takes what it needs from the front and never fails for want of bytes (it gets zeros, then empty strings).

/// A cursor over the bytes libFuzzer hands a target.
public struct FuzzInput {
    /// The whole input.
    public let bytes: UnsafeRawBufferPointer
    /// Where the next read starts.
    public private(set) var position = 0

    /// Wraps the input of `LLVMFuzzerTestOneInput`; valid only during that call.
    public init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
    }

    /// The bytes not read yet.
    public var remaining: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[position...]) }

    /// Whether every byte was read.
    public var isEmpty: Bool { position == bytes.count }

    /// The next byte, or 0 at the end.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// The next two bytes, big-endian, or what is left of them.
    public mutating func uint16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    /// A choice among `count` cases (count > 0), from one byte.
    public mutating func choice(_ count: Int) -> Int { Int(byte()) % count }

    /// The next `count` bytes, or fewer at the end.
    public mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let end = min(bytes.count, position + max(0, count))
        defer { position = end }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<end])
    }

    /// The rest of the input.
    public mutating func takeRest() -> UnsafeRawBufferPointer { take(bytes.count - position) }
}
