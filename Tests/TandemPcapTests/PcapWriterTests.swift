import CPcap
import Foundation
import Testing

@testable import TandemPcap

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Packets of every length from 20 to 1519 bytes, each with its own content, and their timestamps.
private func syntheticPackets(count: Int) -> [(packet: [UInt8], timestamp: UInt64)] {
    (0..<count).map { index in
        let length = 20 + index * 37 % 1500
        let packet = [0x45] + (1..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
        return (packet, 1_700_000_000_000_000_000 + UInt64(index) * 1_234_567)
    }
}

/// Writes packets with a writer, closes it, and returns the file's bytes.
private func writeFile(
    _ packets: [(packet: [UInt8], timestamp: UInt64)], to path: String, writeCall: WriteCall? = nil
) throws -> Data {
    let writer: PcapWriter
    if let writeCall {
        writer = try PcapWriter(path: path, writeCall: writeCall)
    } else {
        writer = try PcapWriter(path: path)
    }
    for (packet, timestamp) in packets {
        try packet.withUnsafeBytes { try writer.write($0, timestamp: timestamp) }
    }
    #expect(writer.packetCount == packets.count)
    #expect(writer.byteCount == packets.reduce(0) { $0 + $1.packet.count })
    try writer.close()
    return try Data(contentsOf: URL(fileURLWithPath: path))
}

@Suite struct PcapWriterTests {
    @Test func writesTheClassicNanosecondHeaderAndRecords() throws {
        try withTemporaryDirectory { directory in
            let bytes = try writeFile([(TestPackets.ipv4UDP, 1_700_000_000_123_456_789)], to: directory + "/out.pcap")
            let fileHeader: [UInt8] =
                [0x4D, 0x3C, 0xB2, 0xA1, 2, 0, 4, 0] + [0, 0, 0, 0, 0, 0, 0, 0] + [0, 0, 4, 0] + [101, 0, 0, 0]
            #expect(Array(bytes.prefix(24)) == fileHeader)
            // 1_700_000_000 s = 0x6553F100, 123_456_789 ns = 0x075BCD15, 60 bytes = 0x3C.
            let recordHeader: [UInt8] =
                [0x00, 0xF1, 0x53, 0x65, 0x15, 0xCD, 0x5B, 0x07] + [60, 0, 0, 0, 60, 0, 0, 0]
            #expect(Array(bytes[24..<40]) == recordHeader)
            #expect(Array(bytes[40...]) == TestPackets.ipv4UDP)
        }
    }

    @Test func readsBackThroughPcapReaderAndLibpcap() throws {
        let packets: [(packet: [UInt8], timestamp: UInt64)] = [
            (TestPackets.ipv4UDP, 1_700_000_000_123_456_789),
            (TestPackets.ipv6TCP, 1_700_000_000_999_999_999),
            (TestPackets.ipv4UDP, 0),
            // After 2038-01-19: the seconds no longer fit a signed 32-bit field.
            (TestPackets.ipv6TCP, 2_208_988_800_000_000_001),
            (TestPackets.ipv4UDP, UInt64(UInt32.max) * 1_000_000_000 + 999_999_999),
        ]
        try withTemporaryDirectory { directory in
            let path = directory + "/out.pcap"
            _ = try writeFile(packets, to: path)

            let reader = try PcapReader(path: path)
            #expect(reader.linkType == 12)  // libpcap reports LINKTYPE_RAW (101) as DLT_RAW
            let expected = packets.map {
                ReadRecord(
                    timestamp: $0.timestamp, packet: $0.packet, capturedLength: $0.packet.count,
                    originalLength: $0.packet.count)
            }
            #expect(try readAll(reader) == expected)

            // libpcap directly, without Tandem's reader.
            var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
            let handle = try #require(
                pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer))
            defer { pcap_close(handle) }
            #expect(pcap_datalink(handle) == DLT_RAW)
            #expect(pcap_snapshot(handle) == 262_144)
            #expect(pcap_major_version(handle) == 2 && pcap_minor_version(handle) == 4)
            #expect(pcap_get_tstamp_precision(handle) == PCAP_TSTAMP_PRECISION_NANO)
            for (packet, timestamp) in packets {
                var header: UnsafeMutablePointer<pcap_pkthdr>?
                var data: UnsafePointer<UInt8>?
                try #require(pcap_next_ex(handle, &header, &data) == 1)
                let record = try #require(header).pointee
                #expect(UInt32(truncatingIfNeeded: record.ts.tv_sec) == UInt32(timestamp / 1_000_000_000))
                #expect(record.ts.tv_usec == Int(timestamp % 1_000_000_000))
                #expect(Int(record.caplen) == packet.count && Int(record.len) == packet.count)
                #expect(Array(UnsafeBufferPointer(start: data, count: Int(record.caplen))) == packet)
            }
            var header: UnsafeMutablePointer<pcap_pkthdr>?
            var data: UnsafePointer<UInt8>?
            #expect(pcap_next_ex(handle, &header, &data) == PCAP_ERROR_BREAK)
        }
    }

    @Test func identicalInputGivesIdenticalFiles() throws {
        let packets = syntheticPackets(count: 500)
        try withTemporaryDirectory { directory in
            let first = try writeFile(packets, to: directory + "/first.pcap")
            let second = try writeFile(packets, to: directory + "/second.pcap")
            #expect(first == second)
        }
    }

    @Test func writesMoreThanTheBuffer() throws {
        var packets = syntheticPackets(count: 4000)
        // A packet beyond the snapshot length: cut to 262144 bytes, its original length kept.
        packets.insert(([0x60] + [UInt8](repeating: 0xAB, count: 299_999), 1_800_000_000_000_000_000), at: 1000)
        let dataBytes = packets.reduce(0) { $0 + $1.packet.count }
        #expect(dataBytes > 3 * PcapWriter.bufferSize)
        try withTemporaryDirectory { directory in
            let path = directory + "/large.pcap"
            let bytes = try writeFile(packets, to: path)
            let fileLength = packets.reduce(24) { $0 + 16 + min($1.packet.count, PcapWriter.snapLength) }
            #expect(bytes.count == fileLength)

            let reader = try PcapReader(path: path)
            let expected = packets.map {
                let captured = min($0.packet.count, PcapWriter.snapLength)
                return ReadRecord(
                    timestamp: $0.timestamp, packet: Array($0.packet.prefix(captured)), capturedLength: captured,
                    originalLength: $0.packet.count)
            }
            let records = try readAll(reader)
            #expect(records.count == expected.count)
            #expect(records == expected)
            #expect(reader.truncatedCount == 1)
        }
    }

    @Test func survivesShortWritesAndInterruptions() throws {
        // Every other call is interrupted; the others write at most 1000 bytes.
        final class Calls { var count = 0 }
        let calls = Calls()
        let stingy: WriteCall = { descriptor, bytes, count in
            calls.count += 1
            if calls.count % 2 == 1 {
                errno = EINTR
                return -1
            }
            return systemWrite(descriptor, bytes, min(count, 1000))
        }
        let packets = syntheticPackets(count: 1500)
        try withTemporaryDirectory { directory in
            let plain = try writeFile(packets, to: directory + "/plain.pcap")
            let stingyBytes = try writeFile(packets, to: directory + "/stingy.pcap", writeCall: stingy)
            #expect(stingyBytes == plain)
            #expect(calls.count > 2 * plain.count / 1000)
        }
    }

    @Test func keepsUnwrittenBytesWhenAWriteFails() throws {
        final class Disk { var full = true }
        let disk = Disk()
        let failing: WriteCall = { descriptor, bytes, count in
            if disk.full {
                errno = ENOSPC
                return -1
            }
            return systemWrite(descriptor, bytes, count)
        }
        try withTemporaryDirectory { directory in
            let path = directory + "/full.pcap"
            let writer = try PcapWriter(path: path, writeCall: failing)
            try TestPackets.ipv4UDP.withUnsafeBytes { try writer.write($0, timestamp: 1) }
            let error = #expect(throws: PcapError.self) { try writer.flush() }
            #expect(error?.description == "writing \(path): No space left on device (errno 28 from write)")
            disk.full = false
            try writer.close()
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 24 + 16 + TestPackets.ipv4UDP.count)
        }
    }

    @Test func refusesADirectory() throws {
        try withTemporaryDirectory { directory in
            let error = #expect(throws: PcapError.self) { try PcapWriter(path: directory) }
            #expect(error?.description == "creating \(directory): Is a directory (errno 21 from open)")
        }
    }

    @Test func refusesToWriteAfterClose() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/closed.pcap"
            let writer = try PcapWriter(path: path)
            try writer.close()
            try writer.close()  // a second close does nothing
            let error = #expect(throws: PcapError.self) {
                try TestPackets.ipv4UDP.withUnsafeBytes { try writer.write($0, timestamp: 1) }
            }
            #expect(error?.description == "writing \(path): the writer is closed")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 24)
        }
    }

    @Test func refusesATimestampAfter2106() throws {
        try withTemporaryDirectory { directory in
            let writer = try PcapWriter(path: directory + "/late.pcap")
            let error = #expect(throws: PcapError.self) {
                try TestPackets.ipv4UDP.withUnsafeBytes {
                    try writer.write($0, timestamp: (UInt64(UInt32.max) + 1) * 1_000_000_000)
                }
            }
            #expect(error?.reason.contains("2106") == true)
            #expect(writer.packetCount == 0)
        }
    }

    @Test func deinitFlushesAndCloses() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/dropped.pcap"
            do {
                let writer = try PcapWriter(path: path)
                try TestPackets.ipv6TCP.withUnsafeBytes { try writer.write($0, timestamp: 7) }
            }
            let reader = try PcapReader(path: path)
            #expect(try readAll(reader).map(\.packet) == [TestPackets.ipv6TCP])
        }
    }
}
