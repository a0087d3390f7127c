import Foundation
import Synchronization
import Testing
import TandemPacket
import TandemRouting
@testable import TandemDataplane

/// The daemon's shape: pipeline threads, each with its own Pipeline over the one shared plane, forward batch after
/// batch while the control thread fails connection 0 over between its tunnels and takes it down and back. Every
/// forwarded packet must leave through a tunnel its destination may take at some instant; the packets of the
/// untouched connection 1 must never notice. ThreadSanitizer (tools/lib/check-sanitizers) checks that every word
/// the threads share is read and written as the plane's memory model says.
@Suite("Pipeline threads under failover", .serialized)
struct PipelineFailoverConcurrencyTests {
    /// Checks each packet's way out against its destination, without allocating per packet.
    struct CheckingOutput: PipelineOutput {
        var forwarded = 0
        var wrongTunnel = 0
        var untouchedNotForwarded = 0

        /// 198.19.0.0/17 and 2001:db8:100::/48 go through connection 0 (tunnels 0 and 1); 198.19.128.0/17
        /// through connection 1 (tunnel 2).
        static func isConnection1(_ packet: UnsafeRawBufferPointer) -> Bool {
            packet[0] >> 4 == 4 && packet[18] >= 128
        }

        mutating func forward(_ packet: UnsafeRawBufferPointer, tunnel: TunnelID, slot: Int?, timestamp: UInt64) {
            forwarded += 1
            let allowed = Self.isConnection1(packet) ? tunnel.index == 2 : tunnel.index < 2
            if !allowed { wrongTunnel += 1 }
        }

        mutating func reply(_ packet: UnsafeRawBufferPointer, timestamp: UInt64) {
            // An ICMP error quotes the packet after its 20-byte (IPv4) header: only connection 0's may get one.
            if packet[0] >> 4 == 4 && packet.count >= 48 && packet[28 + 18] >= 128 { untouchedNotForwarded += 1 }
        }

        mutating func drop(_ packet: UnsafeRawBufferPointer, reason: DropReason, timestamp: UInt64) {
            if Self.isConnection1(packet) { untouchedNotForwarded += 1 }
        }
    }

    final class Shared: Sendable {
        let stop = Atomic<Bool>(false)
        let batches = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let forwarded = Atomic<Int>(0)
        let wrongTunnel = Atomic<Int>(0)
        let untouchedNotForwarded = Atomic<Int>(0)
    }

    @Test func pipelineThreadsForwardWhileTunnelsFailOver() throws {
        let gateway = try TestGateway()
        let plane = gateway.router.plane
        let configuration = gateway.pipeline.configuration
        // Many flows (source ports) to both connections, in both families.
        var packets: [[UInt8]] = []
        for flow in 0..<16 {
            packets.append(Packets.ipv4UDP(from: "198.18.1.\(10 + flow)", to: "198.19.1.\(flow)"))
            packets.append(Packets.ipv4UDP(from: "198.18.1.\(10 + flow)", to: "198.19.200.\(flow)"))
            packets.append(Packets.ipv6UDP(from: "2001:db8:1::\(10 + flow)", to: "2001:db8:100::\(flow)"))
        }
        let batchPackets = packets
        let shared = Shared()
        let threadCount = 2
        for _ in 0..<threadCount {
            Thread {
                // As Forwarder.run: the pipeline, its batch and its output belong to this thread alone.
                let pipeline = Pipeline(plane: plane, configuration: configuration, batchCapacity: 64)
                let batch = PacketBatch(capacity: 64, slotSize: 2048)
                var output = CheckingOutput()
                var now: UInt64 = 1_000_000_000
                while !shared.stop.load(ordering: .relaxed) {
                    batch.removeAll()
                    for packet in batchPackets { packet.withUnsafeBytes { _ = batch.append($0, timestamp: now) } }
                    pipeline.process(batch, into: &output)
                    now &+= 1_000_000
                    shared.batches.add(1, ordering: .relaxed)
                }
                shared.forwarded.add(output.forwarded, ordering: .relaxed)
                shared.wrongTunnel.add(output.wrongTunnel, ordering: .relaxed)
                shared.untouchedNotForwarded.add(output.untouchedNotForwarded, ordering: .relaxed)
                shared.finished.add(1, ordering: .releasing)
            }.start()
        }
        while shared.batches.load(ordering: .relaxed) < threadCount { usleep(100) }
        // Fail over, go down, come back on the active tunnel, until both sides have done enough work side by side.
        // With TANDEM_TEST_UNDER_SANITIZER=1 (tools/lib/check-sanitizers: a debug build under ThreadSanitizer, a
        // hundred times slower) less: ThreadSanitizer needs the accesses to happen, not to collide.
        let underSanitizer = ProcessInfo.processInfo.environment["TANDEM_TEST_UNDER_SANITIZER"] == "1"
        let (rounds, wantedBatches) = underSanitizer ? (1_000, 500) : (3000, 2000)
        var round = 0
        while round < rounds || shared.batches.load(ordering: .relaxed) < wantedBatches {
            switch round % 3 {
            case 0: try gateway.router.selectTunnel(TunnelID(1), for: ConnectionID(0))
            case 1: try gateway.router.selectTunnel(nil, for: ConnectionID(0))
            default: try gateway.router.selectTunnel(TunnelID(0), for: ConnectionID(0))
            }
            round += 1
        }
        shared.stop.store(true, ordering: .relaxed)
        while shared.finished.load(ordering: .acquiring) < threadCount { usleep(100) }
        #expect(shared.wrongTunnel.load(ordering: .relaxed) == 0, "a packet left through another connection's tunnel")
        #expect(
            shared.untouchedNotForwarded.load(ordering: .relaxed) == 0,
            "connection 1's packets were dropped or answered while only connection 0 failed over")
        #expect(shared.forwarded.load(ordering: .relaxed) > 0)
    }
}
