// Reading capture files (pcap and pcapng) through libpcap, one IP packet at a time, without allocating.

import CPcap

/// One record of a capture file: when it was captured and the IP packet it carries.
///
/// The packet is a view into the reader's buffer, valid until the reader's next call to
/// ``PcapReader/next()``: copy it, or finish with it, before reading on.
public struct PcapRecord {
    /// When the packet was captured, in nanoseconds since the Unix epoch.
    public var timestamp: UInt64
    /// The IP packet, link-layer header removed (link-layer padding may follow it); empty if the record does
    /// not carry IP.
    public var packet: UnsafeRawBufferPointer
    /// Whether the record carries an IP packet (IPv4 or IPv6).
    public var isIP: Bool
    /// How many bytes of the frame the file holds, link-layer header included.
    public var capturedLength: Int
    /// How long the frame was on the wire, link-layer header included. Larger than ``capturedLength`` when the
    /// capture's snapshot length cut the frame.
    public var originalLength: Int

    /// Makes a record.
    public init(
        timestamp: UInt64, packet: UnsafeRawBufferPointer, isIP: Bool, capturedLength: Int, originalLength: Int
    ) {
        self.timestamp = timestamp
        self.packet = packet
        self.isIP = isIP
        self.capturedLength = capturedLength
        self.originalLength = originalLength
    }

    /// Whether the capture cut the frame (captured length below the original length): the packet is incomplete.
    public var isTruncated: Bool { capturedLength < originalLength }
}

/// Reads the IP packets of a pcap or pcapng file, with nanosecond timestamps.
///
/// Reads Ethernet (with any stack of 802.1Q / 802.1ad VLAN tags), raw IP (link types 12, 14, 101, 228 and
/// 229), Linux cooked (SLL, SLL2) and BSD loopback (NULL, LOOP) captures. Records are handed out one at a
/// time from libpcap's buffer: reading allocates nothing per packet.
///
/// A reader is used by one thread at a time.
public final class PcapReader {
    /// The file's path, for error messages.
    public let path: String
    /// The link type, as libpcap reports it (a `DLT_` value: 1 for Ethernet, 12 for raw IP, ...).
    public let linkType: Int32
    /// The link type's name ("EN10MB", "RAW", "LINUX_SLL2", ...).
    public let linkTypeName: String
    /// How many records ``next()`` has returned.
    public private(set) var recordCount = 0
    /// How many of them did not carry IP (ARP, other EtherTypes, frames cut inside their link-layer header).
    public private(set) var notIPCount = 0
    /// How many of them the capture cut (captured length below the original length).
    public private(set) var truncatedCount = 0

    private let handle: OpaquePointer
    private let framing: LinkFraming

    /// Opens a capture file for reading, with timestamps in nanoseconds.
    ///
    /// The corresponding C functions are `pcap_open_offline_with_tstamp_precision` (with
    /// `PCAP_TSTAMP_PRECISION_NANO`), `pcap_datalink` and `pcap_datalink_val_to_name`.
    ///
    /// - Parameter path: A pcap or pcapng file.
    /// - Throws: ``PcapError`` ("opening") if libpcap cannot open or recognise the file, or if its link type is
    ///   not one Tandem reads.
    public init(path: String) throws(PcapError) {
        self.path = path
        let opened = withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(PCAP_ERRBUF_SIZE)) { errorBuffer in
            errorBuffer.initialize(repeating: 0)
            let handle = pcap_open_offline_with_tstamp_precision(
                path, UInt32(PCAP_TSTAMP_PRECISION_NANO), errorBuffer.baseAddress)
            return (handle, String(cString: errorBuffer.baseAddress!))
        }
        guard let handle = opened.0 else {
            throw PcapError(operation: "opening", path: path, reason: Self.reason(opened.1, without: path))
        }
        let linkType = pcap_datalink(handle)
        let linkTypeName = Self.name(ofLinkType: linkType)
        guard let framing = LinkFraming(linkType: linkType) else {
            pcap_close(handle)
            throw PcapError(
                operation: "opening", path: path,
                reason: "link type \(linkTypeName) (\(linkType)) is not supported; Tandem reads Ethernet, raw IP, "
                    + "Linux cooked (SLL, SLL2) and BSD loopback captures")
        }
        self.handle = handle
        self.linkType = linkType
        self.linkTypeName = linkTypeName
        self.framing = framing
    }

    deinit {
        pcap_close(handle)
    }

    /// Reads the next record.
    ///
    /// The record's packet points into libpcap's buffer and is valid until the next call.
    ///
    /// The corresponding C function is `pcap_next_ex`.
    ///
    /// - Returns: The record, or `nil` at the end of the file.
    /// - Throws: ``PcapError`` ("reading") with libpcap's message (`pcap_geterr`), e.g. for a file cut short
    ///   in the middle of a record.
    public func next() throws(PcapError) -> PcapRecord? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let status = pcap_next_ex(handle, &header, &data)
        guard status == 1, let header else {
            if status == PCAP_ERROR_BREAK { return nil }
            throw PcapError(operation: "reading", path: path, reason: lastError(status: status))
        }
        let captured = Int(header.pointee.caplen)
        let original = Int(header.pointee.len)
        let frame = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : captured)
        let packet = framing.ipPacket(in: frame)
        recordCount += 1
        if packet == nil { notIPCount += 1 }
        if captured < original { truncatedCount += 1 }
        return PcapRecord(
            timestamp: Self.nanoseconds(header.pointee.ts),
            packet: packet ?? UnsafeRawBufferPointer(start: nil, count: 0), isIP: packet != nil,
            capturedLength: captured, originalLength: original)
    }

    /// A record's timestamp in nanoseconds since the epoch.
    ///
    /// At nanosecond precision libpcap puts nanoseconds in `tv_usec`. A classic pcap file stores seconds as an
    /// unsigned 32-bit number, which libpcap 1.10 reads as signed: a time after 2038-01-19 comes back negative
    /// and is taken back to the unsigned value it was written as. Arithmetic wraps rather than traps, whatever
    /// the file holds.
    ///
    /// - Parameter time: The record header's time.
    /// - Returns: Nanoseconds since the epoch.
    static func nanoseconds(_ time: timeval) -> UInt64 {
        let seconds =
            time.tv_sec >= 0 ? UInt64(time.tv_sec) : UInt64(UInt32(truncatingIfNeeded: time.tv_sec))
        return seconds &* 1_000_000_000 &+ UInt64(truncatingIfNeeded: time.tv_usec)
    }

    /// libpcap's message for the last error on this handle.
    ///
    /// The corresponding C function is `pcap_geterr`.
    ///
    /// - Parameter status: The failed call's return value, named when libpcap has no message.
    /// - Returns: The message.
    private func lastError(status: CInt) -> String {
        let message = pcap_geterr(handle).map { String(cString: $0) } ?? ""
        return message.isEmpty ? "libpcap returned \(status)" : Self.reason(message, without: path)
    }

    /// The name of a link type, or "LINKTYPE_n" if libpcap has none.
    ///
    /// The corresponding C function is `pcap_datalink_val_to_name`.
    static func name(ofLinkType linkType: Int32) -> String {
        pcap_datalink_val_to_name(linkType).map { String(cString: $0) } ?? "LINKTYPE_\(linkType)"
    }

    /// A libpcap message without the path libpcap puts in front of some ("in.pcap: No such file or
    /// directory"): ``PcapError`` names the path already.
    private static func reason(_ message: String, without path: String) -> String {
        let prefix = path + ": "
        return message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message
    }
}
