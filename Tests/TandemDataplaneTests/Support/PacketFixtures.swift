import TandemPacket
import Testing

// Test packets for the ICMP and fragmentation tests: plain byte arrays written field by field in network byte
// order, and a 16-bit reference checksum to check the module's output against. (TandemPacketTests has similar
// builders; test targets cannot share them without a support module.)

extension Array where Element == UInt8 {
    mutating func append16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    mutating func append32(_ value: UInt32) {
        append16(UInt16(value >> 16))
        append16(UInt16(truncatingIfNeeded: value))
    }

    mutating func append(_ address: IPv4Address) { append32(address.rawValue) }

    mutating func append(_ address: IPv6Address) {
        for shift in stride(from: 112, through: 0, by: -16) {
            append16(UInt16(truncatingIfNeeded: address.rawValue >> UInt128(shift)))
        }
    }

    mutating func set16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    func get16(at offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }

    func get32(at offset: Int) -> UInt32 { UInt32(get16(at: offset)) << 16 | UInt32(get16(at: offset + 2)) }
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

/// The RFC 1071 checksum, 16 bits at a time as the RFC describes it.
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

/// Whether the ICMPv6 message after the fixed header of `packet` has a right checksum over the pseudo-header
/// (RFC 8200 8.1), computed with the module's checksum over a separately built pseudo-header.
func icmpv6ChecksumIsValid(_ packet: [UInt8]) -> Bool {
    let message = Array(packet[40...])
    var pseudo = Array(packet[8..<40])
    pseudo.append32(UInt32(message.count))
    pseudo += [0, 0, 0, 58]
    return (pseudo + message).withUnsafeBytes { InternetChecksum.sum($0) == 0xFFFF }
}

/// An IPv4 packet with a correct header checksum.
struct IPv4Packet {
    var typeOfService: UInt8 = 0
    var identification: UInt16 = 0x1234
    var dontFragment = false
    var moreFragments = false
    var fragmentOffset: UInt16 = 0
    var ttl: UInt8 = 1
    var proto: IPProtocol = .udp
    var source = IPv4Address(198, 18, 0, 1)
    var destination = IPv4Address(198, 19, 0, 1)
    /// Options; a multiple of 4 bytes, at most 40.
    var options: [UInt8] = []
    var payload: [UInt8] = []

    func build() -> [UInt8] {
        precondition(options.count % 4 == 0 && options.count <= 40, "IPv4 options must fill 4-byte words")
        let headerLength = 20 + options.count
        var bytes: [UInt8] = [0x40 | UInt8(headerLength / 4), typeOfService]
        bytes.append16(UInt16(headerLength + payload.count))
        bytes.append16(identification)
        bytes.append16((dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | fragmentOffset & 0x1FFF)
        bytes += [ttl, proto.rawValue, 0, 0]
        bytes.append(source)
        bytes.append(destination)
        bytes += options
        bytes.set16(referenceChecksum(bytes), at: 10)
        return bytes + payload
    }
}

/// An IPv6 packet; `payload` holds the extension headers (see ``chain(_:then:_:)``) and the upper layer.
struct IPv6Packet {
    var trafficClass: UInt8 = 0
    var nextHeader: IPProtocol = .udp
    var hopLimit: UInt8 = 1
    var source = IPv6Address(rawValue: 0x2001_0db8_0000_0000_0000_0000_0000_0001)
    var destination = IPv6Address(rawValue: 0x2001_0db8_0001_0000_0000_0000_0000_0002)
    var payload: [UInt8] = []

    init(_ headers: [ExtensionHeader] = [], then proto: IPProtocol = .udp, _ upper: [UInt8] = []) {
        (nextHeader, payload) = chain(headers, then: proto, upper)
    }

    func build() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.append32(6 << 28 | UInt32(trafficClass) << 20)
        bytes.append16(UInt16(payload.count))
        bytes += [nextHeader.rawValue, hopLimit]
        bytes.append(source)
        bytes.append(destination)
        return bytes + payload
    }
}

/// An IPv6 extension header; options are Pad1 (zero) bytes.
enum ExtensionHeader {
    case hopByHop
    case routing
    case destinationOptions(length: UInt8 = 0)
    case fragment(offset: UInt16, more: Bool)

    var kind: IPProtocol {
        switch self {
        case .hopByHop: .hopByHopOptions
        case .routing: .routing
        case .destinationOptions: .destinationOptions
        case .fragment: .fragment
        }
    }

    func bytes(next: IPProtocol) -> [UInt8] {
        switch self {
        case .hopByHop: [next.rawValue, 0] + [UInt8](repeating: 0, count: 6)
        // Type 0 segments left 0 is not looked at by a router; 8 bytes of reserved zeros.
        case .routing: [next.rawValue, 0, 0, 0, 0, 0, 0, 0]
        case .destinationOptions(let length):
            [next.rawValue, length] + [UInt8](repeating: 0, count: Int(length) * 8 + 6)
        case .fragment(let offset, let more):
            [
                next.rawValue, 0, UInt8(offset >> 5), UInt8(truncatingIfNeeded: offset << 3) | (more ? 1 : 0), 0xAB,
                0xCD, 0, 1,
            ]
        }
    }
}

/// `headers` chained in front of `upper` of protocol `proto`: the fixed header's next header, and the payload.
func chain(_ headers: [ExtensionHeader], then proto: IPProtocol, _ upper: [UInt8]) -> (IPProtocol, [UInt8]) {
    var payload: [UInt8] = []
    for (index, header) in headers.enumerated() {
        payload += header.bytes(next: index + 1 < headers.count ? headers[index + 1].kind : proto)
    }
    return (headers.first?.kind ?? proto, payload + upper)
}

/// A UDP datagram with a right length field and no checksum.
func udpDatagram(source: UInt16 = 5000, destination: UInt16 = 53, payload: [UInt8] = []) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.append16(source)
    bytes.append16(destination)
    bytes.append16(UInt16(8 + payload.count))
    bytes.append16(0)
    return bytes + payload
}

/// A TCP SYN segment without options.
func tcpSegment(source: UInt16 = 40000, destination: UInt16 = 443, payload: [UInt8] = []) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.append16(source)
    bytes.append16(destination)
    bytes.append32(1000)
    bytes.append32(0)
    bytes += [0x50, 0x02]
    bytes.append16(65535)
    bytes.append32(0)
    return bytes + payload
}

/// An ICMP or ICMPv6 message with `body` after the 8-byte header (checksum left zero: not looked at).
func icmpMessage(type: UInt8, code: UInt8 = 0, body: [UInt8] = [0, 0, 0, 0]) -> [UInt8] {
    [type, code, 0, 0] + body
}

/// Bytes 0, 1, 2, ... (mod 251, so that shifted copies differ).
func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8($0 % 251) } }
