import TandemPacket

/// The transport of a flow.
enum FlowTransport: UInt8, Sendable {
    case tcp, udp, icmp
}

/// One flow of a ``TrafficGenerator``: what every packet of it shares, and the counters that move per packet.
struct Flow: Sendable {
    var family: IPFamily
    var transport: FlowTransport
    /// The protocol number in the IP header: 6, 17, 1 (ICMP) or 58 (ICMPv6).
    var protocolNumber: UInt8
    /// The source address; an IPv4 address in the low 32 bits.
    var source: UInt128
    /// The destination address; an IPv4 address in the low 32 bits.
    var destination: UInt128
    /// The source port; for ICMP the echo identifier.
    var sourcePort: UInt16
    /// The destination port; for ICMP the echo identifier.
    var destinationPort: UInt16
    /// IPv6: the flow label.
    var flowLabel: UInt32
    /// Whether the transport checksum covers a pseudo-header (all but ICMP for IPv4).
    var hasPseudoHeader: Bool
    /// The folded sum of the pseudo-header without its length field.
    var pseudoHeaderSum: UInt16
    /// TCP: the acknowledgment number.
    var acknowledgment: UInt32
    /// TCP: the sequence number of the next packet; ICMP: the echo sequence number of the next packet.
    var sequence: UInt32
    /// IPv4: the identification of the next packet.
    var identification: UInt16
    /// The shortest packet of the flow: its IP and transport headers.
    var minimumLength: Int

    /// The 5-tuple, as `FiveTuple` reads it from a packet.
    var fiveTuple: FiveTuple {
        let mapped = { (address: UInt128) in
            family == .ipv4
                ? IPv6Address(ipv4Mapped: IPv4Address(rawValue: UInt32(truncatingIfNeeded: address)))
                : IPv6Address(rawValue: address)
        }
        return FiveTuple(
            family: family, source: mapped(source), destination: mapped(destination),
            protocol: IPProtocol(rawValue: protocolNumber), sourcePort: sourcePort, destinationPort: destinationPort)
    }
}

/// A seeded permutation of the flows `0..<count`, a new one per round, computed per position without tables.
///
/// The permutation of `0..<2^bits` (the smallest power of two not below `count`) is a few rounds of multiplying
/// by an odd number, xor-shifting and adding, each of which is a bijection modulo `2^bits`; positions that land
/// at or above `count` are mapped again until they do not ("cycle walking"), which keeps it a bijection of
/// `0..<count` and takes fewer than two steps on average.
struct FlowOrder: Sendable {
    /// The number of flows.
    let count: UInt64
    /// `2^bits - 1`.
    let mask: UInt64
    /// About half of `bits`, at least 1.
    let shift: UInt64
    /// The seed from which each round's keys come.
    let seed: UInt64
    /// The current round's keys: two odd multipliers and two addends.
    var keys: (UInt64, UInt64, UInt64, UInt64) = (1, 0, 1, 0)

    init(count: Int, seed: UInt64) {
        precondition(count > 0)
        self.count = UInt64(count)
        let bits = UInt64(count - 1).bitWidth - UInt64(count - 1).leadingZeroBitCount
        mask = bits == 0 ? 0 : ~UInt64(0) >> (64 - bits)
        shift = UInt64(max(1, (bits + 1) / 2))
        self.seed = seed
        rekey(round: 0)
    }

    /// Picks the keys of `round`.
    mutating func rekey(round: UInt64) {
        var random = SplitMix64(seed: seed ^ (round &* 0xD1B5_4A32_D192_ED03))
        keys = (random.next() | 1, random.next(), random.next() | 1, random.next())
    }

    /// The flow at `position` (below `count`) in the current round.
    func flow(at position: UInt64) -> Int {
        var value = position
        repeat {
            value = (value &* keys.0) & mask
            value ^= value >> shift
            value = (value &+ keys.1) & mask
            value = (value &* keys.2) & mask
            value ^= value >> shift
            value = (value &+ keys.3) & mask
        } while value >= count
        return Int(value)
    }
}

extension TrafficGenerator {
    /// Destination ports of TCP flows, repeated by how common they are: HTTPS most, then HTTP, alternative HTTP, SSH.
    static let tcpPorts: [UInt16] = [443, 443, 443, 443, 443, 80, 80, 8080, 22, 3389]
    /// Destination ports of UDP flows: QUIC, DNS, NTP, STUN/TURN, IPsec NAT traversal.
    static let udpPorts: [UInt16] = [443, 443, 443, 53, 53, 53, 123, 3478, 4500, 500]

    /// Builds the flows: families and protocols in exact quotas, in a shuffled order; per flow a source host in
    /// the profile's sources, a destination in a random table prefix, ports or an echo identifier, and counters.
    /// Every flow gets a 5-tuple of its own, unless the address and port space is too small for that (64
    /// attempts per flow).
    static func makeFlows(profile: TrafficProfile, destinations: RouteTableData, random: inout SplitMix64) -> [Flow] {
        let count = profile.flows
        let ipv6Count = profile.ipv6Flows
        let weights = profile.tcpShare + profile.udpShare + profile.icmpShare
        let tcpCount = Int((Double(count) * profile.tcpShare / weights).rounded())
        let udpCount =
            min(count, Int((Double(count) * (profile.tcpShare + profile.udpShare) / weights).rounded())) - tcpCount
        var isIPv6 = (0..<count).map { $0 < ipv6Count }
        var transports = (0..<count).map { $0 < tcpCount ? FlowTransport.tcp : $0 < tcpCount + udpCount ? .udp : .icmp }
        shuffle(&isIPv6, &random)
        shuffle(&transports, &random)

        var flows: [Flow] = []
        flows.reserveCapacity(count)
        var seen = Set<FiveTuple>(minimumCapacity: count)
        for index in 0..<count {
            var flow = Flow(
                family: isIPv6[index] ? .ipv6 : .ipv4, transport: transports[index], protocolNumber: 0, source: 0,
                destination: 0, sourcePort: 0, destinationPort: 0, flowLabel: 0, hasPseudoHeader: true,
                pseudoHeaderSum: 0, acknowledgment: 0, sequence: 0, identification: 0, minimumLength: 0)
            let ipHeader = flow.family == .ipv4 ? 20 : 40
            switch flow.transport {
            case .tcp:
                flow.protocolNumber = IPProtocol.tcp.rawValue
                flow.minimumLength = ipHeader + 20
            case .udp:
                flow.protocolNumber = IPProtocol.udp.rawValue
                flow.minimumLength = ipHeader + 8
            case .icmp:
                flow.protocolNumber = flow.family == .ipv4 ? IPProtocol.icmp.rawValue : IPProtocol.icmpv6.rawValue
                flow.hasPseudoHeader = flow.family == .ipv6
                flow.minimumLength = ipHeader + 8
            }
            for _ in 0..<64 {
                if flow.family == .ipv4 {
                    flow.source = UInt128(host(in: profile.ipv4Sources, &random).rawValue)
                    flow.destination = UInt128(inside(destinations.ipv4, &random).rawValue)
                } else {
                    flow.source = host(in: profile.ipv6Sources, &random).rawValue
                    flow.destination = inside(destinations.ipv6, &random).rawValue
                }
                switch flow.transport {
                case .tcp, .udp:
                    flow.sourcePort = UInt16(1024 + random.next() % (65536 - 1024))
                    let ports = flow.transport == .tcp ? tcpPorts : udpPorts
                    flow.destinationPort = ports[Int(random.next() % UInt64(ports.count))]
                case .icmp:
                    flow.sourcePort = UInt16(truncatingIfNeeded: random.next())
                    flow.destinationPort = flow.sourcePort
                }
                if seen.insert(flow.fiveTuple).inserted { break }
            }
            flow.flowLabel = UInt32(truncatingIfNeeded: random.next()) & 0xF_FFFF
            flow.acknowledgment = UInt32(truncatingIfNeeded: random.next())
            flow.sequence = flow.transport == .icmp ? 1 : UInt32(truncatingIfNeeded: random.next())
            flow.identification = UInt16(truncatingIfNeeded: random.next())
            flow.pseudoHeaderSum = pseudoHeaderSum(of: flow)
            flows.append(flow)
        }
        return flows
    }

    /// Shuffles `values` (Fisher-Yates) with draws of our own, so that a seed gives the same order whatever the
    /// standard library's `shuffle(using:)` does.
    static func shuffle<T>(_ values: inout [T], _ random: inout SplitMix64) {
        guard values.count > 1 else { return }
        for index in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(index, Int(random.next() % UInt64(index + 1)))
        }
    }

    /// A random address inside a random prefix of `prefixes` (which is not empty).
    static func inside<P: IPPrefix>(_ prefixes: [P], _ random: inout SplitMix64) -> P.Address {
        let prefix = prefixes[Int(random.next() % UInt64(prefixes.count))]
        let host = AddressSamples.randomRaw(P.Address.RawValue.self, &random) & ~P.mask(length: prefix.length)
        return P.Address(rawValue: prefix.address.rawValue | host)
    }

    /// A random host address in `prefix`: not the all-zeros or all-ones host, when the prefix has others.
    static func host<P: IPPrefix>(in prefix: P, _ random: inout SplitMix64) -> P.Address {
        let hostMask = ~P.mask(length: prefix.length)
        while true {
            let host = AddressSamples.randomRaw(P.Address.RawValue.self, &random) & hostMask
            if hostMask.nonzeroBitCount < 2 || (host != 0 && host != hostMask) {
                return P.Address(rawValue: prefix.address.rawValue | host)
            }
        }
    }

    /// The folded sum of the flow's pseudo-header without the length: the addresses, and the protocol as a
    /// 16-bit word (IPv4: zero byte and protocol) or the low half of a 32-bit word (IPv6).
    static func pseudoHeaderSum(of flow: Flow) -> UInt16 {
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }
        if flow.family == .ipv4 {
            append(UInt32(truncatingIfNeeded: flow.source))
            append(UInt32(truncatingIfNeeded: flow.destination))
        } else {
            for address in [flow.source, flow.destination] {
                append(UInt64(truncatingIfNeeded: address >> 64))
                append(UInt64(truncatingIfNeeded: address))
            }
        }
        append(UInt16(flow.protocolNumber))
        return bytes.withUnsafeBytes { InternetChecksum.sum($0) }
    }
}
