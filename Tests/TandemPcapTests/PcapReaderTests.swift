import CPcap
import Foundation
import TandemPcap
import Testing

/// A frame and the IP packet the reader must find in it (`nil`: not IP).
struct FramedPacket: Sendable {
    var frame: [UInt8]
    var ip: [UInt8]?
}

/// A capture of one link type, written by libpcap, and what reading it must give.
struct LinkTypeCase: Sendable, CustomTestStringConvertible {
    var name: String
    /// The DLT_ value libpcap writes the file with.
    var linkType: Int32
    /// The link type field written over the file header afterwards, if any.
    var fileLinkType: UInt32?
    /// The link type the reader must report.
    var expectedLinkType: Int32
    var frames: [FramedPacket]

    var testDescription: String { name }

    static let base: UInt64 = 1_700_000_000_123_456_789

    var records: [CaptureRecord] {
        frames.enumerated().map { CaptureRecord(frame: $1.frame, timestamp: Self.base + UInt64($0) * 1_000_000_001) }
    }

    var expected: [ReadRecord] {
        frames.enumerated().map {
            ReadRecord(
                timestamp: Self.base + UInt64($0) * 1_000_000_001, packet: $1.ip, capturedLength: $1.frame.count,
                originalLength: $1.frame.count)
        }
    }
}

private let v4 = TestPackets.ipv4UDP
private let v6 = TestPackets.ipv6TCP
private let arp = TestPackets.arpRequest

private func rawCases() -> [FramedPacket] {
    [
        FramedPacket(frame: v4, ip: v4), FramedPacket(frame: v6, ip: v6),
        FramedPacket(frame: [0x50] + v4.dropFirst(), ip: nil),
    ]
}

private func cookedCases(_ make: ([UInt8], UInt16) -> [UInt8]) -> [FramedPacket] {
    [
        FramedPacket(frame: make(v4, 0x0800), ip: v4), FramedPacket(frame: make(v6, 0x86DD), ip: v6),
        // A VLAN tag after the protocol field: TCI (VLAN 100), then the inner EtherType.
        FramedPacket(frame: make([0x00, 0x64, 0x08, 0x00] + v4, 0x8100), ip: v4),
        FramedPacket(frame: make(arp, 0x0806), ip: nil),
    ]
}

private func loopbackCases(bigEndian: Bool) -> [FramedPacket] {
    [
        FramedPacket(frame: Frames.loopback(v4, family: 2, bigEndian: bigEndian), ip: v4),
        FramedPacket(frame: Frames.loopback(v6, family: 10, bigEndian: bigEndian), ip: v6),
        FramedPacket(frame: Frames.loopback(v6, family: 24, bigEndian: bigEndian), ip: v6),
        FramedPacket(frame: Frames.loopback(v6, family: 28, bigEndian: bigEndian), ip: v6),
        FramedPacket(frame: Frames.loopback(v6, family: 30, bigEndian: bigEndian), ip: v6),
        FramedPacket(frame: Frames.loopback(arp, family: 17, bigEndian: bigEndian), ip: nil),
    ]
}

private let linkTypeCases: [LinkTypeCase] = [
    LinkTypeCase(
        name: "Ethernet, 0 to 2 VLAN tags, ARP", linkType: 1, expectedLinkType: 1,
        frames: [
            FramedPacket(frame: Frames.ethernet(v4, etherType: 0x0800), ip: v4),
            FramedPacket(frame: Frames.ethernet(v6, etherType: 0x86DD), ip: v6),
            FramedPacket(frame: Frames.ethernet(v4, etherType: 0x0800, tags: [0x8100]), ip: v4),
            FramedPacket(frame: Frames.ethernet(v6, etherType: 0x86DD, tags: [0x88A8]), ip: v6),
            FramedPacket(frame: Frames.ethernet(v4, etherType: 0x0800, tags: [0x88A8, 0x8100]), ip: v4),
            FramedPacket(frame: Frames.ethernet(v6, etherType: 0x86DD, tags: [0x8100, 0x8100]), ip: v6),
            FramedPacket(frame: Frames.ethernet(arp, etherType: 0x0806), ip: nil),
            FramedPacket(frame: Frames.ethernet(arp, etherType: 0x0806, tags: [0x8100]), ip: nil),
            // Cut inside the link-layer header, and inside a VLAN tag.
            FramedPacket(frame: Array(Frames.ethernet(v4, etherType: 0x0800).prefix(10)), ip: nil),
            FramedPacket(frame: Array(Frames.ethernet(v4, etherType: 0x0800, tags: [0x8100]).prefix(16)), ip: nil),
        ]),
    LinkTypeCase(name: "raw IP, DLT_RAW (file: 101)", linkType: 12, expectedLinkType: 12, frames: rawCases()),
    LinkTypeCase(
        name: "raw IP, file link type 12", linkType: 12, fileLinkType: 12, expectedLinkType: 12, frames: rawCases()),
    LinkTypeCase(
        name: "raw IP, file link type 14", linkType: 12, fileLinkType: 14, expectedLinkType: 14, frames: rawCases()),
    LinkTypeCase(
        name: "LINKTYPE_IPV4 (228)", linkType: 228, expectedLinkType: 228, frames: [FramedPacket(frame: v4, ip: v4)]),
    LinkTypeCase(
        name: "LINKTYPE_IPV6 (229)", linkType: 229, expectedLinkType: 229, frames: [FramedPacket(frame: v6, ip: v6)]),
    LinkTypeCase(
        name: "Linux cooked SLL (113)", linkType: 113, expectedLinkType: 113,
        frames: cookedCases { Frames.linuxCooked($0, protocol: $1) }),
    LinkTypeCase(
        name: "Linux cooked SLL2 (276)", linkType: 276, expectedLinkType: 276,
        frames: cookedCases { Frames.linuxCooked2($0, protocol: $1) }),
    LinkTypeCase(
        name: "BSD NULL, little-endian family", linkType: 0, expectedLinkType: 0,
        frames: loopbackCases(bigEndian: false)),
    LinkTypeCase(
        name: "BSD NULL, big-endian family", linkType: 0, expectedLinkType: 0, frames: loopbackCases(bigEndian: true)),
    LinkTypeCase(name: "BSD LOOP (108)", linkType: 108, expectedLinkType: 108, frames: loopbackCases(bigEndian: true)),
]

@Suite struct PcapReaderTests {
    @Test(arguments: linkTypeCases)
    func readsEveryLinkType(_ testCase: LinkTypeCase) throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/capture.pcap"
            try Captures.writeWithLibpcap(
                testCase.records, linkType: testCase.linkType, to: path, fileLinkType: testCase.fileLinkType)
            let reader = try PcapReader(path: path)
            #expect(reader.linkType == testCase.expectedLinkType)
            #expect(try readAll(reader) == testCase.expected)
            #expect(reader.recordCount == testCase.frames.count)
            #expect(reader.notIPCount == testCase.frames.filter { $0.ip == nil }.count)
            #expect(reader.truncatedCount == 0)
        }
    }

    @Test func namesTheLinkType() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/capture.pcap"
            try Captures.writeWithLibpcap([], linkType: 276, to: path)
            #expect(try PcapReader(path: path).linkTypeName == "LINUX_SLL2")
        }
    }

    @Test(arguments: [9, 6] as [UInt8])
    func readsPcapng(timestampResolution: UInt8) throws {
        // Microsecond files hold whole microseconds; libpcap scales them to nanoseconds.
        let base: UInt64 = timestampResolution == 9 ? 1_700_000_000_123_456_789 : 1_700_000_000_123_456_000
        let records = [
            CaptureRecord(frame: Frames.ethernet(v4, etherType: 0x0800), timestamp: base),
            CaptureRecord(frame: Frames.ethernet(arp, etherType: 0x0806), timestamp: base + 1_000),
            CaptureRecord(frame: Frames.ethernet(v6, etherType: 0x86DD, tags: [0x8100]), timestamp: base + 2_000_000),
        ]
        try withTemporaryDirectory { directory in
            let path = directory + "/capture.pcapng"
            let file = Captures.pcapng(records, linkType: 1, timestampResolution: timestampResolution)
            try Data(file).write(to: URL(fileURLWithPath: path))
            let reader = try PcapReader(path: path)
            #expect(reader.linkType == 1)
            #expect(reader.linkTypeName == "EN10MB")
            let expected = zip(records, [v4, nil, v6]).map {
                ReadRecord(
                    timestamp: $0.timestamp, packet: $1, capturedLength: $0.frame.count,
                    originalLength: $0.frame.count)
            }
            #expect(try readAll(reader) == expected)
            #expect(reader.notIPCount == 1)
        }
    }

    @Test func refusesAnUnsupportedLinkType() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/in.pcap"
            try Captures.writeWithLibpcap([], linkType: 105, to: path)
            let error = #expect(throws: PcapError.self) { try PcapReader(path: path) }
            #expect(error?.operation == "opening")
            #expect(error?.path == path)
            #expect(
                error?.description
                    == "opening \(path): link type IEEE802_11 (105) is not supported; Tandem reads Ethernet, raw IP, "
                    + "Linux cooked (SLL, SLL2) and BSD loopback captures")
        }
    }

    @Test func namesAMissingFile() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/missing.pcap"
            let error = #expect(throws: PcapError.self) { try PcapReader(path: path) }
            #expect(error?.description == "opening \(path): No such file or directory")
        }
    }

    @Test func refusesAFileThatIsNotACapture() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/notes.txt"
            try Data("not a capture file, just some text\n".utf8).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: PcapError.self) { try PcapReader(path: path) }
            #expect(error?.operation == "opening")
            #expect(error?.description.hasPrefix("opening \(path): ") == true)
        }
    }

    @Test func reportsATruncatedRecord() throws {
        // Snapshot length 34: Ethernet header and IPv4 header only, of a 74-byte frame.
        let frame = Frames.ethernet(v4, etherType: 0x0800)
        let records = [
            CaptureRecord(frame: Array(frame.prefix(34)), timestamp: 5, originalLength: frame.count),
            CaptureRecord(frame: frame, timestamp: 6),
        ]
        try withTemporaryDirectory { directory in
            let path = directory + "/snap.pcap"
            try Captures.writeWithLibpcap(records, linkType: 1, to: path)
            let reader = try PcapReader(path: path)
            let first = try #require(try reader.next())
            #expect(first.isTruncated)
            #expect(first.isIP)
            #expect(first.capturedLength == 34)
            #expect(first.originalLength == 74)
            #expect(Array(first.packet) == Array(v4.prefix(20)))
            let second = try #require(try reader.next())
            #expect(!second.isTruncated)
            #expect(try reader.next() == nil)
            #expect(reader.truncatedCount == 1)
        }
    }

    @Test func reportsAFileCutInsideARecord() throws {
        let records = [
            CaptureRecord(frame: v4, timestamp: 1), CaptureRecord(frame: v6, timestamp: 2),
        ]
        try withTemporaryDirectory { directory in
            let path = directory + "/cut.pcap"
            try Captures.writeWithLibpcap(records, linkType: 12, to: path)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: path))
            let reader = try PcapReader(path: path)
            #expect(try reader.next()?.timestamp == 1)
            let error = #expect(throws: PcapError.self) { try reader.next() }
            #expect(error?.operation == "reading")
            #expect(error?.path == path)
            #expect(error?.reason.contains("truncated") == true)
        }
    }
}
