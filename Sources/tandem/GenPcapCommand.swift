import ArgumentParser
import TandemConfig
import TandemDatasets
import TandemPacket
import TandemPcap

/// `tandem gen-pcap`: writes a capture of generated traffic to destinations drawn from a routing table.
struct GenPcap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen-pcap",
        abstract: "Generate a capture of traffic towards the prefixes of a routing table.",
        discussion: """
            Writes raw IP packets (pcap, nanosecond timestamps) of --flows flows whose destinations are drawn \
            from the table (default: the shared full Internet table, or the synthetic one) and whose sources are \
            in the site prefixes 198.18.0.0/16 and 2001:db8:1::/48. Packets are valid (checksums included) \
            except the --malformed share. The same options and seed give the same file.
            """)

    @Option(name: .long, help: "The capture to write.")
    var out: String

    @Option(name: .long, help: "Number of packets.")
    var packets: Int = 1_000_000

    @Option(name: .long, help: "Number of distinct flows (5-tuples).")
    var flows: Int = 10_000

    @Option(name: .long, help: "Packet size in bytes (IP packet, up to 1500), or imix (40, 576 and 1500 bytes, 7:4:1).")
    var size: String = "64"

    @Option(name: .long, help: "Share of IPv6 packets, 0...1.")
    var ipv6: Double = 0.2

    @Option(name: .long, help: "Protocol mix as tcp:udp:icmp shares, e.g. 60:35:5.")
    var mix: String = "60:35:5"

    @Option(name: .long, help: "Share of malformed packets, 0...1.")
    var malformed: Double = 0

    @Option(name: .long, help: "Seed of the generator.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Packets per second of capture time (sets the timestamps).")
    var pps: Double = 1_000_000

    @Option(name: .long, help: "Routing table to draw destinations from (default: the shared full table).")
    var table: String?

    @Option(name: .long, help: "Draw destinations from this gateway configuration's routes instead of a table.")
    var config: String?

    func validate() throws {
        guard packets >= 0 else { throw ValidationError("--packets must be 0 or more") }
        guard flows >= 1 else { throw ValidationError("--flows must be at least 1") }
        guard (0...1).contains(ipv6), (0...1).contains(malformed) else {
            throw ValidationError("--ipv6 and --malformed are shares between 0 and 1")
        }
        guard pps > 0 else { throw ValidationError("--pps must be above 0") }
        guard Self.sizes(size) != nil else { throw ValidationError("--size must be a number of bytes or imix") }
        guard Self.shares(mix) != nil else { throw ValidationError("--mix must be three numbers tcp:udp:icmp, e.g. 60:35:5") }
    }

    static func sizes(_ text: String) -> TrafficProfile.Sizes? {
        if text == "imix" { return .imix }
        guard let bytes = Int(text), (20...TrafficGenerator.maximumPacketLength).contains(bytes) else { return nil }
        return .fixed(bytes)
    }

    static func shares(_ text: String) -> (Double, Double, Double)? {
        let parts = text.split(separator: ":").compactMap { Double($0) }
        guard parts.count == 3, parts.allSatisfy({ $0 >= 0 }), parts.reduce(0, +) > 0 else { return nil }
        return (parts[0], parts[1], parts[2])
    }

    func run() throws {
        let data: RouteTableData
        if let config {
            data = try Self.destinations(ofConfiguration: config)
        } else {
            data = try RouteTableData.loadOrSynthesize(path: table)
            if case .synthetic = data.origin {
                printError("note: using a synthetic table (the shared full table was not found)")
            }
        }
        var profile = TrafficProfile()
        profile.flows = flows
        profile.sizes = Self.sizes(size)!
        profile.ipv6Share = ipv6
        let (tcp, udp, icmp) = Self.shares(mix)!
        profile.tcpShare = tcp
        profile.udpShare = udp
        profile.icmpShare = icmp
        profile.malformedShare = malformed
        profile.seed = seed
        profile.packetsPerSecond = pps
        do {
            try profile.validate(destinations: data)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        var generator = TrafficGenerator(profile: profile, destinations: data)
        let writer = try PcapWriter(path: out)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TrafficGenerator.maximumPacketLength, alignment: 16)
        defer { buffer.deallocate() }
        for _ in 0..<packets {
            let (length, timestamp) = generator.writePacket(into: buffer)
            try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), timestamp: timestamp)
        }
        try writer.close()
        print("wrote \(writer.packetCount) packets (\(writer.byteCount) bytes) of \(flows) flows to \(out)")
    }

    /// The prefixes of a configuration's destination routes, as a table to draw destinations from.
    static func destinations(ofConfiguration path: String) throws -> RouteTableData {
        let config: GatewayConfig
        do {
            config = try GatewayConfig.load(path: path)
        } catch {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            throw ExitCode(1)
        }
        var ipv4: [IPv4Prefix] = []
        var ipv6: [IPv6Prefix] = []
        for route in config.routes {
            switch route.prefix {
            case .v4(let prefix): ipv4.append(prefix)
            case .v6(let prefix): ipv6.append(prefix)
            }
        }
        return RouteTableData(ipv4: ipv4, ipv6: ipv6, origin: .file(path: path))
    }
}
