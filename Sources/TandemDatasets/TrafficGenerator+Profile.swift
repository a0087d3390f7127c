import TandemPacket

/// What traffic ``TrafficGenerator`` makes: how many flows, which families, protocols and sizes, how much of it is
/// malformed, where it comes from and at what rate.
///
/// Every share is a share of packets. Families and protocols are given to flows in exact quotas (a profile with
/// 10 flows and an IPv6 share of 0.2 has exactly 2 IPv6 flows) and every flow sends one packet per round, so the
/// packet shares match the profile up to rounding; malformed packets are drawn per packet.
public struct TrafficProfile: Hashable, Sendable {
    /// The lengths of the packets: total IP packet length in bytes, IP header included (no link layer).
    public enum Sizes: Hashable, Sendable {
        /// Every packet is this long, at most ``TrafficGenerator/maximumPacketLength``. A length below the headers
        /// of a flow's protocol gives that protocol's minimum instead: IPv4 TCP 40, IPv4 UDP and ICMP 28, IPv6 TCP
        /// 60, IPv6 UDP and ICMPv6 48 bytes.
        case fixed(Int)
        /// The classic simple IMIX in IP packet lengths: 40, 576 and 1500 bytes in the ratio 7:4:1, drawn per
        /// packet (mean 340 bytes). The 40-byte packets are a TCP ACK over IPv4; for protocols whose headers are
        /// longer (IPv6) they become that protocol's minimum, as for ``fixed(_:)``.
        case imix
    }

    /// The number of distinct 5-tuples (flows), 1 through ``TrafficProfile/maximumFlows``.
    public var flows: Int
    /// The packet lengths.
    public var sizes: Sizes
    /// The share of IPv6 flows, 0...1; the rest are IPv4.
    public var ipv6Share: Double
    /// The weight of TCP flows; the three protocol weights are normalised by their sum.
    public var tcpShare: Double
    /// The weight of UDP flows.
    public var udpShare: Double
    /// The weight of ICMP (IPv4) and ICMPv6 (IPv6) echo request flows.
    public var icmpShare: Double
    /// The share of packets made malformed, 0...1 (see ``TrafficGenerator/Malformation``).
    public var malformedShare: Double
    /// The seed of every random choice: the same profile and table give the same packets, byte for byte.
    public var seed: UInt64
    /// Where the IPv4 flows come from: each flow has a random host address in this prefix.
    public var ipv4Sources: IPv4Prefix
    /// Where the IPv6 flows come from: each flow has a random host address in this prefix.
    public var ipv6Sources: IPv6Prefix
    /// The timestamp of the first packet, in nanoseconds (e.g. since the Unix epoch).
    public var startTime: UInt64
    /// The packet rate: packet `i` is stamped `startTime + i / packetsPerSecond` (rounded to the nanosecond).
    public var packetsPerSecond: Double

    /// Where the flows come from, IPv4 and IPv6. (Stored as ``ipv4Sources`` and ``ipv6Sources``, since a tuple
    /// cannot be `Hashable`.)
    public var sources: (IPv4Prefix, IPv6Prefix) {
        get { (ipv4Sources, ipv6Sources) }
        set { (ipv4Sources, ipv6Sources) = newValue }
    }

    /// The default sources: 198.18.0.0/16 (in the benchmarking range) and 2001:db8:1::/48, a site.
    public static let defaultSources = (
        IPv4Prefix(normalizing: IPv4Address(198, 18, 0, 0), length: 16),
        IPv6Prefix(normalizing: IPv6Address(rawValue: 0x2001_0db8_0001 << 80), length: 48)
    )

    /// The most flows a profile may ask for (each flow costs about 100 bytes while generating).
    public static let maximumFlows = 1 << 24

    /// Makes a profile; every parameter has a default.
    ///
    /// - Parameters:
    ///   - flows: The number of distinct 5-tuples.
    ///   - sizes: The packet lengths.
    ///   - ipv6Share: The share of IPv6 flows, 0...1.
    ///   - tcpShare: The weight of TCP flows.
    ///   - udpShare: The weight of UDP flows.
    ///   - icmpShare: The weight of ICMP echo flows.
    ///   - malformedShare: The share of malformed packets, 0...1.
    ///   - seed: The seed of every random choice.
    ///   - sources: The source prefixes, IPv4 and IPv6.
    ///   - startTime: The first timestamp, in nanoseconds.
    ///   - packetsPerSecond: The packet rate.
    public init(
        flows: Int = 10_000, sizes: Sizes = .fixed(64), ipv6Share: Double = 0.2, tcpShare: Double = 0.6,
        udpShare: Double = 0.35, icmpShare: Double = 0.05, malformedShare: Double = 0, seed: UInt64 = 1,
        sources: (IPv4Prefix, IPv6Prefix) = TrafficProfile.defaultSources, startTime: UInt64 = 0,
        packetsPerSecond: Double = 1_000_000
    ) {
        self.flows = flows
        self.sizes = sizes
        self.ipv6Share = ipv6Share
        self.tcpShare = tcpShare
        self.udpShare = udpShare
        self.icmpShare = icmpShare
        self.malformedShare = malformedShare
        self.seed = seed
        self.ipv4Sources = sources.0
        self.ipv6Sources = sources.1
        self.startTime = startTime
        self.packetsPerSecond = packetsPerSecond
    }

    /// The number of IPv6 flows: the IPv6 share of ``flows``, rounded.
    public var ipv6Flows: Int { min(flows, max(0, Int((Double(flows) * ipv6Share).rounded()))) }

    /// Checks the profile, and that `destinations` has prefixes of every family the profile sends to.
    /// ``TrafficGenerator/init(profile:destinations:)`` traps on a profile that fails this check: call it first
    /// where the profile comes from a person (the command line).
    ///
    /// - Parameter destinations: The table the destinations will be drawn from.
    /// - Throws: ``TrafficProfileError`` naming the first setting that is wrong and what to give instead.
    public func validate(destinations: RouteTableData) throws(TrafficProfileError) {
        guard (1...Self.maximumFlows).contains(flows) else {
            throw TrafficProfileError(
                setting: "flows", message: "\(flows) is out of range; give 1 through \(Self.maximumFlows) flows")
        }
        if case .fixed(let length) = sizes, !(0...TrafficGenerator.maximumPacketLength).contains(length) {
            throw TrafficProfileError(
                setting: "sizes",
                message: "fixed length \(length) is out of range; give a total IP packet length of 0 through "
                    + "\(TrafficGenerator.maximumPacketLength) bytes (lengths below a protocol's headers give its "
                    + "minimum)")
        }
        for (name, share) in [("ipv6Share", ipv6Share), ("malformedShare", malformedShare)] {
            guard share >= 0, share <= 1 else {
                throw TrafficProfileError(setting: name, message: "\(share) is not a share; give 0 through 1")
            }
        }
        for (name, weight) in [("tcpShare", tcpShare), ("udpShare", udpShare), ("icmpShare", icmpShare)] {
            guard weight >= 0, weight.isFinite else {
                throw TrafficProfileError(setting: name, message: "\(weight) is not a weight; give 0 or more")
            }
        }
        guard tcpShare + udpShare + icmpShare > 0 else {
            throw TrafficProfileError(
                setting: "tcpShare, udpShare, icmpShare", message: "all are 0; give at least one a positive share")
        }
        guard packetsPerSecond > 0, packetsPerSecond.isFinite else {
            throw TrafficProfileError(
                setting: "packetsPerSecond", message: "\(packetsPerSecond) is not a rate; give a positive number")
        }
        if ipv6Flows > 0 && destinations.ipv6.isEmpty {
            throw TrafficProfileError(
                setting: "ipv6Share",
                message: "\(ipv6Share) asks for IPv6 flows but the destination table (\(destinations.origin)) has "
                    + "no IPv6 prefixes; set the IPv6 share to 0 or use a table with IPv6 prefixes")
        }
        if ipv6Flows < flows && destinations.ipv4.isEmpty {
            throw TrafficProfileError(
                setting: "ipv6Share",
                message: "\(ipv6Share) asks for IPv4 flows but the destination table (\(destinations.origin)) has "
                    + "no IPv4 prefixes; set the IPv6 share to 1 or use a table with IPv4 prefixes")
        }
    }
}

/// A traffic profile setting that cannot be generated: which setting, and what to give instead.
public struct TrafficProfileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The setting, as named in ``TrafficProfile``.
    public var setting: String
    /// What is wrong with it and what to do.
    public var message: String

    public init(setting: String, message: String) {
        self.setting = setting
        self.message = message
    }

    public var description: String { "traffic profile: \(setting): \(message)" }
}
