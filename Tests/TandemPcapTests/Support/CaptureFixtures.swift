// Fixtures for the pcap tests: known IP packets with correct checksums, link-layer frames around them,
// capture files written by libpcap itself, a hand-built pcapng file, and temporary directories.

import CPcap
import Foundation
import TandemPacket
import TandemPcap

/// A fixture could not be made.
struct FixtureError: Error, CustomStringConvertible {
    var description: String
}

/// Known, valid IP packets (documentation and benchmarking addresses), checksums computed with TandemPacket.
enum TestPackets {
    /// IPv4 198.18.0.1 -> 198.19.0.1, UDP 49152 -> 49153, 32 bytes of payload: 60 bytes.
    static let ipv4UDP: [UInt8] = {
        let payload = Array("Tandem pcap test, IPv4 UDP ....".utf8) + [0x0A]
        let udpLength = 8 + payload.count
        let source: [UInt8] = [198, 18, 0, 1]
        let destination: [UInt8] = [198, 19, 0, 1]
        var udp: [UInt8] = [0xC0, 0x00, 0xC0, 0x01] + bigEndian16(udpLength) + [0, 0] + payload
        let pseudoHeader = source + destination + [0, 17] + bigEndian16(udpLength)
        var udpChecksum = checksum(pseudoHeader + udp)
        if udpChecksum == 0 { udpChecksum = 0xFFFF }  // RFC 768: a computed 0 is sent as all ones
        udp[6...7] = ArraySlice(bigEndian16(Int(udpChecksum)))
        var header: [UInt8] = [0x45, 0x00] + bigEndian16(20 + udpLength) + [0x12, 0x34, 0x40, 0x00, 64, 17, 0, 0]
        header += source + destination
        header[10...11] = ArraySlice(bigEndian16(Int(checksum(header))))
        return header + udp
    }()

    /// IPv6 2001:db8::1 -> 2001:db8::2, TCP 49152 -> 49153 (PSH, ACK), 24 bytes of payload: 84 bytes.
    static let ipv6TCP: [UInt8] = {
        let payload = Array("Tandem pcap test, IPv6 T".utf8)
        let source: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]
        let destination: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [2]
        var tcp: [UInt8] = [0xC0, 0x00, 0xC0, 0x01]  // ports
        tcp += [0x00, 0x00, 0x03, 0xE8]  // sequence number 1000
        tcp += [0x00, 0x00, 0x07, 0xD0]  // acknowledgment number 2000
        tcp += [0x50, 0x18, 0xFF, 0xFF]  // data offset 5, PSH + ACK, window 65535
        tcp += [0, 0, 0, 0]  // checksum, urgent pointer
        tcp += payload
        let pseudoHeader = source + destination + [0, 0] + bigEndian16(tcp.count) + [0, 0, 0, 6]
        tcp[16...17] = ArraySlice(bigEndian16(Int(checksum(pseudoHeader + tcp))))
        let header: [UInt8] = [0x60, 0x00, 0x00, 0x00] + bigEndian16(tcp.count) + [6, 64] + source + destination
        return header + tcp
    }()

    /// An ARP request (who has 198.18.0.2, tell 198.18.0.1), the payload of EtherType 0x0806.
    static let arpRequest: [UInt8] =
        [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01] + [0x02, 0, 0, 0, 0, 0x01] + [198, 18, 0, 1]
        + [0, 0, 0, 0, 0, 0] + [198, 18, 0, 2]

    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        bytes.withUnsafeBytes { InternetChecksum.checksum($0) }
    }
}

/// Big-endian bytes of a 16-bit value.
func bigEndian16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
/// Big-endian bytes of a 32-bit value.
func bigEndian32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (24 - 8 * $0) & 0xFF) } }
/// Little-endian bytes of a 16-bit value.
func littleEndian16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
/// Little-endian bytes of a 32-bit value.
func littleEndian32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(value >> (8 * $0) & 0xFF) } }

/// Link-layer frames around a payload.
enum Frames {
    /// An Ethernet frame; each entry of `tags` is a VLAN tag's TPID (0x8100 or 0x88A8), outermost first.
    static func ethernet(_ payload: [UInt8], etherType: UInt16, tags: [UInt16] = []) -> [UInt8] {
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02]
        for (index, tpid) in tags.enumerated() {
            frame += bigEndian16(Int(tpid)) + bigEndian16(100 + index)  // TPID, then TCI: VLAN 100, 101, ...
        }
        return frame + bigEndian16(Int(etherType)) + payload
    }

    /// A Linux cooked (SLL) frame: packet type "to us", ARPHRD_ETHER, a 6-byte address, then the protocol.
    static func linuxCooked(_ payload: [UInt8], protocol etherType: UInt16) -> [UInt8] {
        [0, 0, 0, 1, 0, 6] + [0x02, 0, 0, 0, 0, 0x02, 0, 0] + bigEndian16(Int(etherType)) + payload
    }

    /// A Linux cooked v2 (SLL2) frame: protocol, reserved, interface index 3, ARPHRD_ETHER, packet type,
    /// address length 6, the address.
    static func linuxCooked2(_ payload: [UInt8], protocol etherType: UInt16) -> [UInt8] {
        bigEndian16(Int(etherType)) + [0, 0] + [0, 0, 0, 3] + [0, 1] + [0, 6]
            + [0x02, 0, 0, 0, 0, 0x02, 0, 0] + payload
    }

    /// A BSD loopback frame: the address family in the given byte order.
    static func loopback(_ payload: [UInt8], family: UInt32, bigEndian: Bool) -> [UInt8] {
        (bigEndian ? bigEndian32(family) : littleEndian32(family)) + payload
    }
}

/// One record of a capture to write.
struct CaptureRecord: Sendable {
    var frame: [UInt8]
    var timestamp: UInt64
    /// The length on the wire, when the record is cut (`frame` is then the captured part).
    var originalLength: Int?
}

/// Capture files made without Tandem's code.
enum Captures {
    /// Writes a classic pcap file with libpcap itself, nanosecond timestamps.
    ///
    /// - Parameters:
    ///   - linkType: The DLT_ value given to `pcap_open_dead_with_tstamp_precision`.
    ///   - fileLinkType: If given, written over the link type field of the file header afterwards (for values
    ///     libpcap refuses to write on Linux, such as 14).
    static func writeWithLibpcap(
        _ records: [CaptureRecord], linkType: Int32, to path: String, fileLinkType: UInt32? = nil
    ) throws {
        guard let dead = pcap_open_dead_with_tstamp_precision(linkType, 65535, UInt32(PCAP_TSTAMP_PRECISION_NANO))
        else { throw FixtureError(description: "pcap_open_dead failed for link type \(linkType)") }
        defer { pcap_close(dead) }
        guard let dumper = pcap_dump_open(dead, path) else {
            throw FixtureError(description: "pcap_dump_open \(path): \(String(cString: pcap_geterr(dead)))")
        }
        for record in records {
            var header = pcap_pkthdr()
            header.ts.tv_sec = Int(record.timestamp / 1_000_000_000)
            header.ts.tv_usec = Int(record.timestamp % 1_000_000_000)  // nanoseconds at nanosecond precision
            header.caplen = UInt32(record.frame.count)
            header.len = UInt32(record.originalLength ?? record.frame.count)
            record.frame.withUnsafeBufferPointer { pcap_dump(UnsafeMutablePointer(dumper), &header, $0.baseAddress) }
        }
        pcap_dump_close(dumper)
        if let fileLinkType {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes.replaceSubrange(20..<24, with: littleEndian32(fileLinkType))
            try bytes.write(to: URL(fileURLWithPath: path))
        }
    }

    /// A minimal pcapng file built by hand (libpcap 1.10 writes only classic pcap): a section header block, one
    /// interface description block with `if_tsresol`, and an enhanced packet block per record, little-endian.
    ///
    /// - Parameter timestampResolution: `if_tsresol` (9: nanoseconds, 6: microseconds); timestamps are
    ///   written in that unit.
    static func pcapng(_ records: [CaptureRecord], linkType: UInt16, timestampResolution: UInt8) -> [UInt8] {
        func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
            let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
            let length = UInt32(12 + padded.count)
            return littleEndian32(type) + littleEndian32(length) + padded + littleEndian32(length)
        }
        var file = block(
            0x0A0D_0D0A,
            littleEndian32(0x1A2B_3C4D) + littleEndian16(1) + littleEndian16(0) + [UInt8](repeating: 0xFF, count: 8))
        let tsresol = littleEndian16(9) + littleEndian16(1) + [timestampResolution, 0, 0, 0]
        let endOfOptions = littleEndian16(0) + littleEndian16(0)
        file += block(1, littleEndian16(linkType) + littleEndian16(0) + littleEndian32(65535) + tsresol + endOfOptions)
        var unitsPerSecond: UInt64 = 1
        for _ in 0..<timestampResolution { unitsPerSecond *= 10 }
        for record in records {
            let units = record.timestamp / (1_000_000_000 / unitsPerSecond)
            var body =
                littleEndian32(0) + littleEndian32(UInt32(units >> 32)) + littleEndian32(UInt32(units & 0xFFFF_FFFF))
            body += littleEndian32(UInt32(record.frame.count))
            body += littleEndian32(UInt32(record.originalLength ?? record.frame.count))
            file += block(6, body + record.frame)
        }
        return file
    }
}

/// Runs `body` with a new empty directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-pcap-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory.path)
}

/// A record as the tests compare it: copied out of the reader's buffer.
struct ReadRecord: Equatable, CustomStringConvertible {
    var timestamp: UInt64
    var packet: [UInt8]?
    var capturedLength: Int
    var originalLength: Int

    var description: String {
        "t=\(timestamp) \(packet.map { "\($0.count) bytes" } ?? "not IP") (\(capturedLength)/\(originalLength))"
    }
}

/// Reads every record of a file with `PcapReader`, copying the packets.
func readAll(_ reader: PcapReader) throws -> [ReadRecord] {
    var records: [ReadRecord] = []
    while let record = try reader.next() {
        records.append(
            ReadRecord(
                timestamp: record.timestamp, packet: record.isIP ? Array(record.packet) : nil,
                capturedLength: record.capturedLength, originalLength: record.originalLength))
    }
    return records
}
