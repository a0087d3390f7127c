import TandemPacket
import Testing

// Small builders for test packets: plain byte arrays, written field by field in network byte order, so that a
// test reads like the header diagram it exercises.

extension Array where Element == UInt8 {
    /// Appends a big-endian 16-bit value.
    mutating func append16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends a big-endian 32-bit value.
    mutating func append32(_ value: UInt32) {
        append16(UInt16(value >> 16))
        append16(UInt16(truncatingIfNeeded: value))
    }

    /// Appends an IPv4 address in network byte order.
    mutating func append(_ address: IPv4Address) { append32(address.rawValue) }

    /// Appends an IPv6 address in network byte order.
    mutating func append(_ address: IPv6Address) {
        for shift in stride(from: 112, through: 0, by: -16) {
            append16(UInt16(truncatingIfNeeded: address.rawValue >> UInt128(shift)))
        }
    }

    /// Overwrites a big-endian 16-bit value.
    mutating func set16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    /// Reads a big-endian 16-bit value.
    func get16(at offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }
}

/// The address `text`, recording an issue (not crashing) if it does not parse.
func v4(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> IPv4Address {
    do {
        return try IPv4Address(text)
    } catch {
        Issue.record("test literal \(error)", sourceLocation: sourceLocation)
        return IPv4Address(rawValue: 0)
    }
}

/// The address `text`, recording an issue (not crashing) if it does not parse.
func v6(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> IPv6Address {
    do {
        return try IPv6Address(text)
    } catch {
        Issue.record("test literal \(error)", sourceLocation: sourceLocation)
        return IPv6Address(rawValue: 0)
    }
}

/// A reference one's complement checksum, 16 bits at a time exactly as RFC 1071 describes it, to check the
/// fast one against.
func referenceChecksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var index = 0
    while index < bytes.count {
        let high = UInt32(bytes[index])
        let low = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
        sum += high << 8 | low
        sum = (sum & 0xFFFF) + (sum >> 16)
        index += 2
    }
    return ~UInt16(sum)
}

/// An IPv4 packet, with a correct header checksum unless told otherwise.
struct IPv4Builder {
    var typeOfService: UInt8 = 0
    var identification: UInt16 = 0x1234
    var dontFragment = false
    var moreFragments = false
    var fragmentOffset: UInt16 = 0
    var ttl: UInt8 = 64
    var proto: IPProtocol = .udp
    var source = IPv4Address(198, 18, 0, 1)
    var destination = IPv4Address(198, 19, 0, 1)
    /// Options; their length must be a multiple of 4 and at most 40.
    var options: [UInt8] = []
    var payload: [UInt8] = []

    func build() -> [UInt8] {
        precondition(options.count % 4 == 0 && options.count <= 40, "IPv4 options must fill 4-byte words")
        let headerLength = 20 + options.count
        var bytes: [UInt8] = []
        bytes.append(0x40 | UInt8(headerLength / 4))
        bytes.append(typeOfService)
        bytes.append16(UInt16(headerLength + payload.count))
        bytes.append16(identification)
        let flags: UInt16 = (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0)
        bytes.append16(flags | fragmentOffset & 0x1FFF)
        bytes.append(ttl)
        bytes.append(proto.rawValue)
        bytes.append16(0)
        bytes.append(source)
        bytes.append(destination)
        bytes += options
        bytes.set16(referenceChecksum(bytes), at: 10)
        return bytes + payload
    }
}

/// An IPv6 packet; `payload` holds the extension headers and the upper-layer bytes (see ``chain(_:then:_:)``).
struct IPv6Builder {
    var trafficClass: UInt8 = 0
    var flowLabel: UInt32 = 0
    var nextHeader: IPProtocol = .udp
    var hopLimit: UInt8 = 64
    var source = IPv6Address(rawValue: 0x2001_0db8_0000_0000_0000_0000_0000_0001)
    var destination = IPv6Address(rawValue: 0x2001_0db8_0000_0000_0000_0000_0000_0002)
    var payload: [UInt8] = []

    func build() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.append32(6 << 28 | UInt32(trafficClass) << 20 | flowLabel & 0xF_FFFF)
        bytes.append16(UInt16(payload.count))
        bytes.append(nextHeader.rawValue)
        bytes.append(hopLimit)
        bytes.append(source)
        bytes.append(destination)
        return bytes + payload
    }

    /// A packet whose payload is `headers` followed by `upper` of protocol `proto`.
    init(_ headers: [ExtensionHeader] = [], then proto: IPProtocol = .udp, _ upper: [UInt8] = []) {
        (nextHeader, payload) = chain(headers, then: proto, upper)
    }
}

/// An IPv6 extension header for the builders. Lengths are the raw length fields.
enum ExtensionHeader {
    case hopByHop(length: UInt8 = 0)
    case routing(length: UInt8 = 0)
    case destinationOptions(length: UInt8 = 0)
    case fragment(offset: UInt16, more: Bool, identification: UInt32 = 0xABCD_0001)
    case authentication(length: UInt8 = 4)

    var kind: IPProtocol {
        switch self {
        case .hopByHop: .hopByHopOptions
        case .routing: .routing
        case .destinationOptions: .destinationOptions
        case .fragment: .fragment
        case .authentication: .authenticationHeader
        }
    }

    /// The header's bytes, with `next` in its next-header field; options are Pad1 (zero) bytes.
    func bytes(next: IPProtocol) -> [UInt8] {
        switch self {
        case .hopByHop(let length), .routing(let length), .destinationOptions(let length):
            return [next.rawValue, length] + [UInt8](repeating: 0, count: (Int(length) + 1) * 8 - 2)
        case .fragment(let offset, let more, let identification):
            var bytes: [UInt8] = [next.rawValue, 0]
            bytes.append16(offset << 3 | (more ? 1 : 0))
            bytes.append32(identification)
            return bytes
        case .authentication(let length):
            return [next.rawValue, length] + [UInt8](repeating: 0xAA, count: (Int(length) + 2) * 4 - 2)
        }
    }
}

/// Chains `headers` in front of `upper`, of protocol `proto`.
///
/// - Returns: The next header value for the fixed header, and the payload.
func chain(_ headers: [ExtensionHeader], then proto: IPProtocol, _ upper: [UInt8]) -> (IPProtocol, [UInt8]) {
    var payload: [UInt8] = []
    for (index, header) in headers.enumerated() {
        payload += header.bytes(next: index + 1 < headers.count ? headers[index + 1].kind : proto)
    }
    return (headers.first?.kind ?? proto, payload + upper)
}

/// A TCP segment; a data offset above 5 adds NOP options.
func tcpSegment(source: UInt16, destination: UInt16, dataOffset: UInt8 = 5, payload: [UInt8] = []) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.append16(source)
    bytes.append16(destination)
    bytes.append32(1000)  // sequence number
    bytes.append32(0)  // acknowledgment number
    bytes.append(dataOffset << 4)
    bytes.append(0x02)  // SYN
    bytes.append16(65535)  // window
    bytes.append16(0)  // checksum (not checked by the views)
    bytes.append16(0)  // urgent pointer
    if dataOffset > 5 { bytes += [UInt8](repeating: 1, count: (Int(dataOffset) - 5) * 4) }
    return bytes + payload
}

/// A UDP datagram with a correct length field and no checksum.
func udpDatagram(source: UInt16, destination: UInt16, payload: [UInt8] = []) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.append16(source)
    bytes.append16(destination)
    bytes.append16(UInt16(8 + payload.count))
    bytes.append16(0)
    return bytes + payload
}

/// An ICMP or ICMPv6 message (the header layouts are the same).
func icmpMessage(type: UInt8, code: UInt8 = 0, identifier: UInt16 = 0, sequence: UInt16 = 0, body: [UInt8] = [])
    -> [UInt8]
{
    var bytes: [UInt8] = [type, code, 0, 0]
    bytes.append16(identifier)
    bytes.append16(sequence)
    bytes += body
    bytes.set16(referenceChecksum(bytes), at: 2)
    return bytes
}

/// Makes a view of `bytes` and hands it to `body`; the view does not outlive the call.
@discardableResult
func withIPv4<R>(_ bytes: [UInt8], _ body: (IPv4Header) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in try body(try IPv4Header(raw)) }
}

/// Makes a view of `bytes` and hands it to `body`; the view does not outlive the call.
@discardableResult
func withIPv6<R>(_ bytes: [UInt8], _ body: (IPv6Header) throws -> R) throws -> R {
    try bytes.withUnsafeBytes { raw in try body(try IPv6Header(raw)) }
}

/// The reason `make` refuses `bytes`, or `nil` if it accepts them.
func rejection<View>(_ bytes: [UInt8], _ make: (UnsafeRawBufferPointer) throws(MalformedReason) -> View)
    -> MalformedReason?
{
    bytes.withUnsafeBytes { raw in
        do throws(MalformedReason) {
            _ = try make(raw)
            return nil
        } catch {
            return error
        }
    }
}

/// The 5-tuple of `bytes`.
func fiveTuple(_ bytes: [UInt8]) -> Result<FiveTuple, MalformedReason> {
    bytes.withUnsafeBytes { FiveTuple.parse($0) }
}
