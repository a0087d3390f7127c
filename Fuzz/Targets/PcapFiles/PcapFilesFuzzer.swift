// Fuzz target 5: capture files through `PcapReader` (libpcap underneath): classic pcap in both byte orders and
// both timestamp precisions, pcapng, and every link type Tandem reads (Ethernet with VLAN tags, raw IP, IPv4,
// IPv6, Linux cooked SLL and SLL2, BSD NULL and LOOP).
//
// The input is the file. libpcap reads files only, so it is written to a scratch file on tmpfs first. Every record
// read must be consistent (an IP record carries a packet no longer than what was captured, one that is not IP
// carries none); the IP packets then go through `PcapWriter` and are read back, and must come back the same, with
// the same timestamps.

import FuzzSupport
import TandemPacket
import TandemPcap

private let capture = ScratchFile(suffix: ".pcap")
private let rewritten = ScratchFile(suffix: "-rewritten.pcap")

/// The records kept for the round trip; a file has at most a few hundred in an input of the size libFuzzer makes.
private let maximumRecords = 512

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    capture.write(input.bytes)
    guard let reader = try? PcapReader(path: capture.path) else { return 0 }
    fuzzCheck(!reader.linkTypeName.isEmpty, "a link type without a name")
    var packets: [(bytes: [UInt8], timestamp: UInt64)] = []
    var ipRecords = 0
    while reader.recordCount < maximumRecords {
        let record: PcapRecord?
        do { record = try reader.next() } catch {
            fuzzCheck(!error.description.isEmpty, "an error without a message")
            break
        }
        guard let record else { break }
        fuzzCheck(record.packet.count <= record.capturedLength, "a packet longer than the captured bytes")
        fuzzCheck(record.isTruncated == (record.capturedLength < record.originalLength), "isTruncated")
        if record.isIP {
            ipRecords += 1
            fuzzCheck(!record.packet.isEmpty, "an IP record without a packet")
            _ = FiveTuple.parse(record.packet)
            packets.append((Array(record.packet), record.timestamp))
        } else {
            fuzzCheck(record.packet.isEmpty, "a record that is not IP with a packet")
        }
    }
    fuzzCheck(reader.notIPCount == reader.recordCount - ipRecords, "notIPCount \(reader.notIPCount)")
    roundTrip(packets)
    return 0
}

/// The last time a pcap file holds: its seconds are 32 bits. A record whose fraction field holds more than a
/// second (libpcap adds it as it is) reads as a later time, which the writer refuses with an error, not a trap.
private let lastWritableTimestamp = UInt64(UInt32.max) * 1_000_000_000 + 999_999_999

/// Writes the packets with `PcapWriter` and reads them back: they must come back as they went.
private func roundTrip(_ packets: [(bytes: [UInt8], timestamp: UInt64)]) {
    let packets = packets.filter { $0.timestamp <= lastWritableTimestamp }
    do {
        let writer = try PcapWriter(path: rewritten.path)
        for packet in packets { try packet.bytes.withUnsafeBytes { try writer.write($0, timestamp: packet.timestamp) } }
        try writer.close()
        let reader = try PcapReader(path: rewritten.path)
        for (index, packet) in packets.enumerated() {
            guard let record = try reader.next() else { fatalError("fuzz check failed: record \(index) missing") }
            // The writer's link type is raw IP, which says IPv4 or IPv6 by the version nibble; a capture of link type
            // IPv4 or IPv6 (228, 229) calls any frame IP, whatever its first byte (the pipeline drops a bad version).
            let version = packet.bytes[0] >> 4
            guard version == 4 || version == 6 else {
                fuzzCheck(!record.isIP, "written packet \(index) of version \(version) read back as IP")
                continue
            }
            fuzzCheck(record.isIP, "written packet \(index) read back as not IP")
            // The writer cuts packets at its snapshot length, as libpcap would; nothing here is that long.
            fuzzCheck(record.packet.elementsEqual(packet.bytes), "packet \(index) changed through the writer")
            fuzzCheck(record.timestamp == packet.timestamp, "timestamp \(index) \(packet.timestamp) -> \(record.timestamp)")
        }
        let extra = try reader.next()
        fuzzCheck(extra == nil, "more records read back than written")
    } catch {
        fatalError("fuzz check failed: the round trip through PcapWriter fails: \(error)")
    }
}
