import TandemPacket
import TandemRouting
import Testing

@testable import TandemDataplane

/// Segmentation-offload packets (up to 64 KiB, cut into segments by the kernel on the way out): the MTU applies to
/// each segment, not to the whole, and the packet leaves as one unit from its own slot.
@Suite("segmentation offload")
struct SegmentationOffloadTests {
    /// Slot numbers of what was forwarded, and drops.
    struct SlotOutput: PipelineOutput {
        var forwardedSlots: [Int?] = []
        var replies = 0
        var drops: [DropReason] = []
        mutating func forward(_ packet: UnsafeRawBufferPointer, tunnel: TunnelID, slot: Int?, timestamp: UInt64) {
            forwardedSlots.append(slot)
        }
        mutating func reply(_ packet: UnsafeRawBufferPointer, timestamp: UInt64) { replies += 1 }
        mutating func drop(_ packet: UnsafeRawBufferPointer, reason: DropReason, timestamp: UInt64) { drops.append(reason) }
    }

    /// One 2008-byte UDP packet to the tunnel with MTU 600, marked as segments of `segmentSize` payload bytes.
    func run(segmentSize: UInt16, dontFragment: Bool) throws -> SlotOutput {
        let gateway = try TestGateway()
        let packet = Packets.ipv4UDP(to: "198.19.200.1", dontFragment: dontFragment, payload: 1980)
        let batch = PacketBatch(capacity: 4, slotSize: 65_535)
        // Slot 0 an ordinary small packet, slot 1 the offload packet.
        Packets.ipv4UDP(to: "198.19.200.2").withUnsafeBytes { _ = batch.append($0, timestamp: 0) }
        let slot = try #require(batch.nextSlot())
        packet.withUnsafeBytes { slot.copyMemory(from: $0) }
        batch.commit(length: packet.count, timestamp: 0, segmentSize: segmentSize)
        var output = SlotOutput()
        gateway.pipeline.process(batch, into: &output)
        return output
    }

    @Test func segmentsThatFitAreForwardedWholeFromTheirSlot() throws {
        // 20 + 8 + 500 = 528 bytes per segment: fits 600.
        let output = try run(segmentSize: 500, dontFragment: true)
        #expect(output.forwardedSlots == [0, 1])
        #expect(output.drops.isEmpty)
    }

    @Test func segmentsTooBigWithDFGetFragmentationNeeded() throws {
        // 20 + 8 + 580 = 608 bytes per segment: too big for 600.
        let output = try run(segmentSize: 580, dontFragment: true)
        #expect(output.forwardedSlots == [0])
        #expect(output.drops == [.tooBig] && output.replies == 1)
    }

    @Test func segmentsTooBigWithoutDFAreDroppedNotFragmented() throws {
        let output = try run(segmentSize: 580, dontFragment: false)
        #expect(output.forwardedSlots == [0])
        #expect(output.drops == [.tooBig] && output.replies == 0)
    }

    @Test func anOrdinaryPacketOfTheSameSizeIsFragmented() throws {
        // The same bytes without the offload mark: fragments, made by the pipeline (no slot).
        let output = try run(segmentSize: 0, dontFragment: false)
        #expect(output.forwardedSlots.first == 0)
        #expect(output.forwardedSlots.dropFirst().allSatisfy { $0 == nil } && output.forwardedSlots.count > 2)
    }
}
