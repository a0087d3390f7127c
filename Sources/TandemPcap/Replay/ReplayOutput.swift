// Where a replay's packets go: one capture file per tunnel egress, one for the ICMP errors the gateway sends
// back, one for the drops (with the reasons in a side file), the counts per phase of the what-if run, and the
// packets per egress over capture time for the report page.

import TandemDataplane
import TandemRouting

/// The pipeline's output during a replay.
struct ReplayOutput: PipelineOutput {
    /// Per tunnel (index = tunnel index), or empty when no output directory was given.
    var tunnels: [PcapWriter]
    var errors: PcapWriter?
    var drops: PcapWriter?
    /// `<drop number> <timestamp ns> <reason>` per line: the number is the packet's position in drops.pcap.
    var dropReasons: BufferedTextFile?
    /// Packets per tunnel in the current phase; phases end at events.
    var phaseCounts: [Int]
    /// Packets per egress and drops per 10 ms of capture time.
    var timeline: EgressTimeline
    var failure: PcapError?

    init(directory: String?, tunnelNames: [String]) throws(PcapError) {
        phaseCounts = Array(repeating: 0, count: tunnelNames.count)
        timeline = EgressTimeline(egressNames: tunnelNames)
        guard let directory else {
            tunnels = []
            return
        }
        var writers: [PcapWriter] = []
        for name in tunnelNames { writers.append(try PcapWriter(path: "\(directory)/\(name).pcap")) }
        tunnels = writers
        errors = try PcapWriter(path: "\(directory)/icmp-errors.pcap")
        drops = try PcapWriter(path: "\(directory)/drops.pcap")
        dropReasons = try BufferedTextFile(path: "\(directory)/drops.txt")
    }

    mutating func forward(_ packet: UnsafeRawBufferPointer, tunnel: TunnelID, slot: Int?, timestamp: UInt64) {
        phaseCounts[tunnel.index] &+= 1
        timeline.countForwarded(egress: tunnel.index, at: timestamp)
        guard !tunnels.isEmpty else { return }
        let writer = tunnels[tunnel.index]
        record { () throws(PcapError) in try writer.write(packet, timestamp: timestamp) }
    }

    mutating func reply(_ packet: UnsafeRawBufferPointer, timestamp: UInt64) {
        guard let errors else { return }
        record { () throws(PcapError) in try errors.write(packet, timestamp: timestamp) }
    }

    mutating func drop(_ packet: UnsafeRawBufferPointer, reason: DropReason, timestamp: UInt64) {
        timeline.countDrop(at: timestamp)
        guard let drops, let dropReasons else { return }
        let number = drops.packetCount + 1
        record { () throws(PcapError) in
            try drops.write(packet, timestamp: timestamp)
            try dropReasons.write("\(number) \(timestamp) \(reason.key)\n")
        }
    }

    /// Keeps the first write error; the replay stops at the end of the batch and reports it.
    private mutating func record(_ write: () throws(PcapError) -> Void) {
        guard failure == nil else { return }
        do { try write() } catch { failure = error }
    }

    /// Flushes and closes every file.
    mutating func close() throws(PcapError) {
        if let failure { throw failure }
        for writer in tunnels { try writer.close() }
        try errors?.close()
        try drops?.close()
        try dropReasons?.close()
    }
}

/// A text file written through a buffer (the drops side file), with the pcap writer's system-call helpers.
final class BufferedTextFile {
    private var buffer: [UInt8] = []
    private var descriptor: CInt
    private let path: String

    init(path: String) throws(PcapError) {
        self.path = path
        switch valueOrErrno({ systemCreate(path) }) {
        case .success(let descriptor): self.descriptor = descriptor
        case .failure(let error): throw PcapError(operation: "creating", path: path, reason: error.creationReason)
        }
        buffer.reserveCapacity(1 << 16)
    }

    deinit { if descriptor >= 0 { _ = systemClose(descriptor) } }

    func write(_ text: String) throws(PcapError) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { try flush() }
    }

    func flush() throws(PcapError) {
        var offset = 0
        while offset < buffer.count {
            let result = buffer.withUnsafeBytes { bytes in
                valueOrErrno { systemWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset) }
            }
            switch result {
            case .success(let count) where count > 0: offset += count
            case .success: throw PcapError(operation: "writing", path: path, reason: "write wrote nothing; is the disk full?")
            case .failure(let error): throw PcapError(operation: "writing", path: path, reason: error.reason(from: "write"))
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws(PcapError) {
        try flush()
        if descriptor >= 0 {
            _ = systemClose(descriptor)
            descriptor = -1
        }
    }
}
