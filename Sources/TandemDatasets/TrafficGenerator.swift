import TandemPacket

/// A deterministic packet factory for `tandem gen-pcap`: IPv4 and IPv6 packets (TCP, UDP, ICMP echo) of a set of
/// flows from a site toward the prefixes of a route table, some of them malformed on purpose.
///
/// The flows are built once, at init; after that a packet is written straight into the caller's buffer without
/// allocating (no arrays, classes, existentials or closures per packet). The same profile and table give the same
/// packets, byte for byte, on every machine.
///
/// Packets go round the flows in rounds: each round visits every flow once, in an order that a seeded permutation
/// picks anew for each round, so that flows interleave (no round robin) and the first ``TrafficProfile/flows``
/// packets already contain every flow.
///
/// Valid packets are what a host would send: IPv4 with a correct header checksum and TTL 64 (DF set for TCP),
/// IPv6 with hop limit 64 and a per-flow flow label; TCP with the ACK flag, a data offset of 5 and a sequence number
/// that grows by the data sent; UDP with its length and checksum (never 0); ICMP and ICMPv6 echo requests with a
/// per-flow identifier and sequence numbers counting up from 1. Checksums of TCP, UDP and ICMPv6 cover the
/// pseudo-header. The data after the transport header is the byte pattern 0, 1, 2, ... 255, 0, 1, ...
public struct TrafficGenerator: Sendable {
    /// The longest packet the generator writes, malformed ones included: a buffer this long always suffices.
    public static var maximumPacketLength: Int { 1500 }

    /// The ways a packet is made malformed. Malformed packets of each family go through that family's kinds in
    /// turn: IPv4 through truncated, bad IHL, total length beyond the buffer, bad header checksum, bad version;
    /// IPv6 through truncated, payload length beyond the buffer, too many extension headers, bad version.
    public enum Malformation: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        /// Shorter than the fixed IP header: the first 1 to 19 (IPv4) or 1 to 39 (IPv6) bytes of a packet.
        case truncated
        /// IPv4: the header length field (IHL) is 0 to 4; the checksum is recomputed over the 20 bytes written.
        case ipv4BadIHL
        /// IPv4: the total length says more than the bytes there are; the header checksum is right.
        case ipv4TotalLengthBeyondBuffer
        /// IPv4: the header checksum is wrong; everything else is right.
        case ipv4BadHeaderChecksum
        /// IPv6: the payload length says more than the bytes there are.
        case ipv6PayloadLengthBeyondBuffer
        /// IPv6: a chain of 9 extension headers (hop-by-hop options, then 8 destination options headers of 8 bytes
        /// each), one more than ``IPv6Header/maxExtensionHeaders``, before a valid transport header.
        case ipv6TooManyExtensionHeaders
        /// The version nibble is 5; the rest is a valid IPv4 or IPv6 packet.
        case badVersion

        /// The reason TandemPacket's header views refuse the packet with (`IPv4Header`, `IPv6Header` and
        /// `IPv6Header.upperLayer()`, or `FiveTuple.parse` for all of them).
        ///
        /// `nil` for ``ipv4BadHeaderChecksum``: the views do not verify the header checksum (the pipeline does,
        /// with `IPv4Header.isChecksumValid`), so they accept that packet.
        public var expectedReason: MalformedReason? {
            switch self {
            case .truncated: .truncated
            case .ipv4BadIHL: .badIHL
            case .ipv4TotalLengthBeyondBuffer: .totalLengthBeyondBuffer
            case .ipv4BadHeaderChecksum: nil
            case .ipv6PayloadLengthBeyondBuffer: .payloadLengthBeyondBuffer
            case .ipv6TooManyExtensionHeaders: .tooManyExtensionHeaders
            case .badVersion: .badVersion
            }
        }

        public var description: String { rawValue }
    }

    /// What ``writeDescribedPacket(into:)`` wrote.
    public struct GeneratedPacket: Hashable, Sendable {
        /// The number of bytes written: the packet, from its first IP header byte.
        public var length: Int
        /// The timestamp in nanoseconds.
        public var timestamp: UInt64
        /// The flow the packet belongs to, 0 up to the profile's flow count.
        public var flow: Int
        /// The flow's family.
        public var family: IPFamily
        /// How the packet was made malformed, or `nil` for a valid packet.
        public var malformation: Malformation?
    }

    /// The profile the generator follows.
    public let profile: TrafficProfile
    /// The number of packets written so far: the index of the next one.
    public private(set) var packetsWritten: Int = 0

    /// The flows, with the counters that move per packet.
    var flows: [Flow]
    /// The order of the flows within the current round.
    var order: FlowOrder
    /// Where the next packet is in the current round.
    var position: UInt64 = 0
    /// The current round.
    var round: UInt64 = 0
    /// The draws of each packet: malformed or not, how, and the IMIX length.
    var random: SplitMix64
    /// A packet is malformed when the top 53 bits of a draw are below this (0: never; 2^53: always).
    let malformedThreshold: UInt64
    /// How many malformed packets of each family so far, to take their kinds in turn.
    var malformedIPv4 = 0
    var malformedIPv6 = 0
    /// `payloadSums[n]`: the folded Internet checksum sum of the first `n` bytes of the payload pattern.
    let payloadSums: [UInt16]

    /// Builds the flows of `profile` toward the prefixes of `destinations`: each flow's destination is a random
    /// address in a random prefix of its family (IPv4 flows from `ipv4`, IPv6 flows from `ipv6`).
    ///
    /// - Parameters:
    ///   - profile: The traffic to make. It must pass ``TrafficProfile/validate(destinations:)``; a profile that
    ///     does not is a programming error and traps with the validation message.
    ///   - destinations: The table the destinations are drawn from.
    public init(profile: TrafficProfile, destinations: RouteTableData) {
        do {
            try profile.validate(destinations: destinations)
        } catch {
            preconditionFailure(error.description)
        }
        self.profile = profile
        var random = SplitMix64(seed: profile.seed)
        flows = Self.makeFlows(profile: profile, destinations: destinations, random: &random)
        order = FlowOrder(count: flows.count, seed: random.next())
        self.random = SplitMix64(seed: random.next())
        malformedThreshold = UInt64((profile.malformedShare * 0x20_0000_0000_0000).rounded())
        payloadSums = Self.payloadPatternSums(upTo: Self.maximumPacketLength)
    }

    /// The number of flows.
    public var flowCount: Int { flows.count }

    /// Writes the next packet into `buffer`.
    ///
    /// - Parameter buffer: Where to write; at least ``maximumPacketLength`` bytes (a shorter buffer that is too
    ///   short for the packet traps).
    /// - Returns: The number of bytes written and the packet's timestamp in nanoseconds.
    public mutating func writePacket(into buffer: UnsafeMutableRawBufferPointer) -> (length: Int, timestamp: UInt64) {
        let packet = writeDescribedPacket(into: buffer)
        return (packet.length, packet.timestamp)
    }

    /// Writes the next packet into `buffer` and says which flow it belongs to and whether it is malformed.
    ///
    /// - Parameter buffer: Where to write; at least ``maximumPacketLength`` bytes (a shorter buffer that is too
    ///   short for the packet traps).
    /// - Returns: The length, timestamp, flow and malformation of the packet.
    public mutating func writeDescribedPacket(into buffer: UnsafeMutableRawBufferPointer) -> GeneratedPacket {
        let index = order.flow(at: position)
        position += 1
        if position == order.count {
            position = 0
            round += 1
            order.rekey(round: round)
        }
        // Rounded to the nearest nanosecond, so that exact rates (1 Mpps: 1000 ns) stay exact for large indices.
        let offset = (Double(packetsWritten) * 1_000_000_000 / profile.packetsPerSecond).rounded()
        let timestamp = profile.startTime &+ (offset < 0x1p64 ? UInt64(offset) : .max)
        packetsWritten += 1

        var flow = flows[index]
        var length: Int
        switch profile.sizes {
        case .fixed(let fixed): length = fixed
        case .imix:
            let pick = random.next() % 12
            length = pick < 7 ? 40 : pick < 11 ? 576 : 1500
        }
        length = max(length, flow.minimumLength)

        var malformation: Malformation? = nil
        if malformedThreshold != 0 && random.next() >> 11 < malformedThreshold {
            if flow.family == .ipv4 {
                malformation = Self.ipv4Malformation(malformedIPv4)
                malformedIPv4 += 1
            } else {
                malformation = Self.ipv6Malformation(malformedIPv6)
                malformedIPv6 += 1
            }
        }

        var extensionHeaders = 0
        if malformation == .ipv6TooManyExtensionHeaders {
            extensionHeaders = IPv6Header.maxExtensionHeaders + 1
            length = min(length + extensionHeaders * 8, Self.maximumPacketLength)
        }
        precondition(buffer.count >= length, "a packet buffer of \(buffer.count) bytes is too short for \(length)")
        Self.write(
            flow: &flow, length: length, extensionHeaders: extensionHeaders, payloadSums: payloadSums, into: buffer)
        flows[index] = flow
        if let malformation {
            length = damage(buffer, length: length, family: flow.family, as: malformation)
        }
        return GeneratedPacket(
            length: length, timestamp: timestamp, flow: index, family: flow.family, malformation: malformation)
    }
}

// MARK: - Writing valid packets

extension TrafficGenerator {
    /// Writes a valid packet of `flow`, `length` bytes long (between the flow's minimum and the maximum), and moves
    /// the flow's counters on.
    ///
    /// - Parameters:
    ///   - flow: The flow.
    ///   - length: The total IP length.
    ///   - extensionHeaders: IPv6 only: how many 8-byte extension headers to put before the transport header
    ///     (hop-by-hop options first, then destination options), counted in `length`; 0 for a valid packet.
    ///   - payloadSums: The sums of the payload pattern's prefixes.
    ///   - buffer: Where to write.
    static func write(
        flow: inout Flow, length: Int, extensionHeaders: Int, payloadSums: [UInt16],
        into buffer: UnsafeMutableRawBufferPointer
    ) {
        let transportOffset: Int
        if flow.family == .ipv4 {
            transportOffset = 20
            buffer.storeByte(0x45, at: 0)
            buffer.storeByte(0, at: 1)
            buffer.storeBigEndian(UInt16(length), at: 2)
            buffer.storeBigEndian(flow.identification, at: 4)
            buffer.storeBigEndian(UInt16(flow.transport == .tcp ? 0x4000 : 0), at: 6)  // DF for TCP, as Linux sends it
            buffer.storeByte(64, at: 8)
            buffer.storeByte(flow.protocolNumber, at: 9)
            buffer.storeBigEndian(UInt16(0), at: 10)
            buffer.storeBigEndian(UInt32(truncatingIfNeeded: flow.source), at: 12)
            buffer.storeBigEndian(UInt32(truncatingIfNeeded: flow.destination), at: 16)
            buffer.storeBigEndian(InternetChecksum.checksum(buffer.readOnly(0..<20)), at: 10)
            flow.identification &+= 1
        } else {
            transportOffset = 40 + extensionHeaders * 8
            buffer.storeBigEndian(0x6000_0000 | flow.flowLabel, at: 0)
            buffer.storeBigEndian(UInt16(length - 40), at: 4)
            buffer.storeByte(extensionHeaders > 0 ? IPProtocol.hopByHopOptions.rawValue : flow.protocolNumber, at: 6)
            buffer.storeByte(64, at: 7)
            buffer.storeBigEndian(flow.source, at: 8)
            buffer.storeBigEndian(flow.destination, at: 24)
            var offset = 40
            for header in 0..<extensionHeaders {
                let next =
                    header == extensionHeaders - 1 ? flow.protocolNumber : IPProtocol.destinationOptions.rawValue
                // Next header, length 0 (8 bytes), and a PadN option filling the other 6 bytes.
                buffer.storeBigEndian(UInt32(next) << 24 | 0x0000_0104, at: offset)
                buffer.storeBigEndian(UInt32(0), at: offset + 4)
                offset += 8
            }
        }
        writeTransport(
            flow: &flow, at: transportOffset, length: length - transportOffset, payloadSums: payloadSums,
            into: buffer)
    }

    /// Writes the transport header and payload of `flow` at `offset`, `length` bytes in all, checksum included.
    static func writeTransport(
        flow: inout Flow, at offset: Int, length: Int, payloadSums: [UInt16],
        into buffer: UnsafeMutableRawBufferPointer
    ) {
        let headerLength: Int
        let checksumOffset: Int
        switch flow.transport {
        case .tcp:
            headerLength = 20
            checksumOffset = 16
            buffer.storeBigEndian(flow.sourcePort, at: offset)
            buffer.storeBigEndian(flow.destinationPort, at: offset + 2)
            buffer.storeBigEndian(flow.sequence, at: offset + 4)
            buffer.storeBigEndian(flow.acknowledgment, at: offset + 8)
            buffer.storeBigEndian(UInt16(0x5010), at: offset + 12)  // data offset 5, ACK
            buffer.storeBigEndian(UInt16(64_240), at: offset + 14)  // window
            buffer.storeBigEndian(UInt32(0), at: offset + 16)  // checksum, urgent pointer
            flow.sequence &+= UInt32(length - headerLength)
        case .udp:
            headerLength = 8
            checksumOffset = 6
            buffer.storeBigEndian(flow.sourcePort, at: offset)
            buffer.storeBigEndian(flow.destinationPort, at: offset + 2)
            buffer.storeBigEndian(UInt16(length), at: offset + 4)
            buffer.storeBigEndian(UInt16(0), at: offset + 6)
        case .icmp:
            headerLength = 8
            checksumOffset = 2
            let type = flow.family == .ipv4 ? ICMPHeader.echoRequest : ICMPv6Header.echoRequest
            buffer.storeBigEndian(UInt16(type) << 8, at: offset)  // type, code 0
            buffer.storeBigEndian(UInt16(0), at: offset + 2)
            buffer.storeBigEndian(flow.sourcePort, at: offset + 4)  // the identifier
            buffer.storeBigEndian(UInt16(truncatingIfNeeded: flow.sequence), at: offset + 6)
            flow.sequence &+= 1
        }
        let payloadLength = length - headerLength
        fillPayload(buffer, at: offset + headerLength, count: payloadLength)
        // The payload starts at an even offset of the checksummed data, so the sums of its pieces add up.
        var sum = InternetChecksum.add(
            InternetChecksum.sum(buffer.readOnly(offset..<offset + headerLength)), payloadSums[payloadLength])
        if flow.hasPseudoHeader {
            // The upper-layer length: 16 bits in IPv4's pseudo-header, 32 in IPv6's (whose top half is 0 here).
            sum = InternetChecksum.add(sum, InternetChecksum.add(flow.pseudoHeaderSum, UInt16(length)))
        }
        var checksum = ~sum
        // UDP sends a computed 0 as all ones: 0 means "no checksum" in IPv4 and is forbidden in IPv6.
        if checksum == 0 && flow.transport == .udp { checksum = 0xFFFF }
        buffer.storeBigEndian(checksum, at: offset + checksumOffset)
    }

    /// Writes `count` bytes of the payload pattern (byte `j` is `j` modulo 256) at `offset`, 8 bytes at a time.
    static func fillPayload(_ buffer: UnsafeMutableRawBufferPointer, at offset: Int, count: Int) {
        var index = 0
        while count - index >= 8 {
            // Bytes index ... index + 7 in memory order; index is a multiple of 8, so no byte wraps within a word.
            let word = UInt64(index & 0xFF) &* 0x0101_0101_0101_0101 &+ 0x0706_0504_0302_0100
            buffer.storeBytes(of: word.littleEndian, toByteOffset: offset + index, as: UInt64.self)
            index += 8
        }
        while index < count {
            buffer.storeBytes(of: UInt8(truncatingIfNeeded: index), toByteOffset: offset + index, as: UInt8.self)
            index += 1
        }
    }

    /// The folded sum (as ``InternetChecksum/sum(_:)`` computes it) of the first `n` bytes of the payload
    /// pattern, for every `n` up to `maximum`.
    static func payloadPatternSums(upTo maximum: Int) -> [UInt16] {
        func fold(_ value: UInt32) -> UInt16 {
            var value = value
            while value > 0xFFFF { value = (value & 0xFFFF) + (value >> 16) }
            return UInt16(value)
        }
        var sums = [UInt16](repeating: 0, count: maximum + 1)
        var words: UInt32 = 0  // the sum of the complete 16-bit words so far
        for count in stride(from: 1, through: maximum, by: 1) {
            let last = UInt32(UInt8(truncatingIfNeeded: count - 1))
            if count % 2 == 1 {
                sums[count] = fold(words + last << 8)  // an odd last byte is the high byte of a padded word
            } else {
                words += UInt32(UInt8(truncatingIfNeeded: count - 2)) << 8 | last
                sums[count] = fold(words)
            }
        }
        return sums
    }
}

// MARK: - Malformed packets

extension TrafficGenerator {
    /// The kind of the `count`-th malformed IPv4 packet.
    static func ipv4Malformation(_ count: Int) -> Malformation {
        switch count % 5 {
        case 0: .truncated
        case 1: .ipv4BadIHL
        case 2: .ipv4TotalLengthBeyondBuffer
        case 3: .ipv4BadHeaderChecksum
        default: .badVersion
        }
    }

    /// The kind of the `count`-th malformed IPv6 packet.
    static func ipv6Malformation(_ count: Int) -> Malformation {
        switch count % 4 {
        case 0: .truncated
        case 1: .ipv6PayloadLengthBeyondBuffer
        case 2: .ipv6TooManyExtensionHeaders
        default: .badVersion
        }
    }

    /// Breaks the valid packet of `length` bytes in `buffer` in the way `kind` says.
    ///
    /// - Returns: The length of the malformed packet.
    mutating func damage(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, family: IPFamily, as kind: Malformation
    ) -> Int {
        let draw = random.next()
        switch kind {
        case .truncated:
            let header = family == .ipv4 ? IPv4Header.minimumLength : IPv6Header.fixedHeaderLength
            return 1 + Int(draw % UInt64(header - 1))
        case .ipv4BadIHL:
            buffer.storeByte(0x40 | UInt8(draw % 5), at: 0)
            Self.refreshIPv4HeaderChecksum(buffer)
        case .ipv4TotalLengthBeyondBuffer:
            buffer.storeBigEndian(UInt16(length + 1 + Int(draw % UInt64(0xFFFF - length))), at: 2)
            Self.refreshIPv4HeaderChecksum(buffer)
        case .ipv4BadHeaderChecksum:
            // Flipping bits by 1 ... 0xFFFE never turns 0x0000 into 0xFFFF or back, the two zeros of one's
            // complement, either of which would still sum to all ones.
            let flip = UInt16(1 + draw % 0xFFFE)
            buffer.storeBigEndian(buffer.bigEndianUInt16(at: 10) ^ flip, at: 10)
        case .ipv6PayloadLengthBeyondBuffer:
            let payload = length - IPv6Header.fixedHeaderLength
            buffer.storeBigEndian(UInt16(payload + 1 + Int(draw % UInt64(0xFFFF - payload))), at: 4)
        case .ipv6TooManyExtensionHeaders:
            break  // written so by write(flow:length:extensionHeaders:payloadSums:into:)
        case .badVersion:
            buffer.storeByte(0x50 | buffer.load(fromByteOffset: 0, as: UInt8.self) & 0x0F, at: 0)
            if family == .ipv4 { Self.refreshIPv4HeaderChecksum(buffer) }
        }
        return length
    }

    /// Recomputes the checksum of the 20-byte IPv4 header at the start of `buffer`.
    static func refreshIPv4HeaderChecksum(_ buffer: UnsafeMutableRawBufferPointer) {
        buffer.storeBigEndian(UInt16(0), at: 10)
        buffer.storeBigEndian(InternetChecksum.checksum(buffer.readOnly(0..<20)), at: 10)
    }
}
