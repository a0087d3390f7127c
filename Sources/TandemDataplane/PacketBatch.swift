// The packets of one batch, in buffers the pipeline's owner allocates once and reuses for every batch.

/// A fixed number of packet slots of a fixed size, with each packet's length and timestamp.
///
/// Allocated once per pipeline (or per queue); filling and processing a batch allocates nothing. The pipeline
/// rewrites packets in place (TTL, checksum), so a slot's bytes are the forwarded packet afterwards.
public final class PacketBatch: @unchecked Sendable {
    /// How many packets a batch holds.
    public let capacity: Int
    /// The largest packet a slot holds.
    public let slotSize: Int
    /// How many slots hold a packet.
    public var count: Int { countStorage.pointee }
    // Behind a pointer: a stored `var` in a class pays a dynamic exclusivity check on every access.
    private let countStorage: UnsafeMutablePointer<Int>
    private let storage: UnsafeMutableRawPointer
    private let lengths: UnsafeMutablePointer<Int>
    private let timestamps: UnsafeMutablePointer<UInt64>
    private let segmentSizes: UnsafeMutablePointer<UInt16>

    /// Makes an empty batch.
    ///
    /// - Parameters:
    ///   - capacity: Packets per batch (the pipeline works best with 64 to 256).
    ///   - slotSize: Bytes per packet; longer packets are refused by ``append(_:timestamp:)``.
    public init(capacity: Int = 256, slotSize: Int = 65_535) {
        precondition(capacity > 0 && slotSize >= 1280)
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 64)
        lengths = .allocate(capacity: capacity)
        lengths.initialize(repeating: 0, count: capacity)
        timestamps = .allocate(capacity: capacity)
        timestamps.initialize(repeating: 0, count: capacity)
        segmentSizes = .allocate(capacity: capacity)
        segmentSizes.initialize(repeating: 0, count: capacity)
        countStorage = .allocate(capacity: 1)
        countStorage.initialize(to: 0)
    }

    deinit {
        storage.deallocate()
        lengths.deallocate()
        timestamps.deallocate()
        segmentSizes.deallocate()
        countStorage.deallocate()
    }

    /// Whether every slot is used.
    public var isFull: Bool { count == capacity }

    /// Empties the batch (the slots are reused).
    public func removeAll() { countStorage.pointee = 0 }

    /// Copies a packet into the next slot. Returns false if the batch is full or the packet is longer than a slot.
    @discardableResult
    public func append(_ packet: UnsafeRawBufferPointer, timestamp: UInt64) -> Bool {
        guard count < capacity, packet.count <= slotSize else { return false }
        if let base = packet.baseAddress { (storage + count * slotSize).copyMemory(from: base, byteCount: packet.count) }
        lengths[count] = packet.count
        timestamps[count] = timestamp
        segmentSizes[count] = 0
        countStorage.pointee += 1
        return true
    }

    /// The next free slot, whole, for an input that reads straight into it (a TUN read, a generator); commit
    /// what was written with ``commit(length:timestamp:)``.
    public func nextSlot() -> UnsafeMutableRawBufferPointer? {
        guard count < capacity else { return nil }
        return UnsafeMutableRawBufferPointer(start: storage + count * slotSize, count: slotSize)
    }

    /// Takes the packet written into ``nextSlot()``.
    ///
    /// - Parameter segmentSize: For a segmentation-offload packet (a TCP or UDP "super-packet" of up to 64 KiB that
    ///   the kernel cuts on the way out), the payload bytes per segment (`gso_size`); 0 for an ordinary packet.
    public func commit(length: Int, timestamp: UInt64, segmentSize: UInt16 = 0) {
        precondition(count < capacity && length <= slotSize)
        lengths[count] = length
        timestamps[count] = timestamp
        segmentSizes[count] = segmentSize
        countStorage.pointee += 1
    }

    /// The bytes of packet `index`.
    @inlinable
    public func packet(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: slotStart(index), count: length(of: index))
    }

    /// The arrival time of packet `index`, in nanoseconds.
    public func timestamp(of index: Int) -> UInt64 { timestamps[index] }

    /// The payload bytes per segment of packet `index` if it is a segmentation-offload packet, else 0.
    public func segmentSize(of index: Int) -> UInt16 { segmentSizes[index] }

    @usableFromInline func slotStart(_ index: Int) -> UnsafeMutableRawPointer { storage + index * slotSize }
    @usableFromInline func length(of index: Int) -> Int { lengths[index] }
}
