import ArgumentParser
import TandemConfig
import TandemDataplane
import TandemDatasets
import TandemPacket
import TandemPcap
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// `tandem replay`: a capture through the gateway's pipeline, with what-if events, into per-egress captures.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a capture through the forwarding pipeline of a gateway configuration.",
        discussion: """
            Reads CAPTURE (pcap or pcapng; Ethernet with VLAN tags, raw IP, Linux cooked SLL/SLL2, BSD \
            loopback), forwards every IP packet as the gateway in --config would, and writes one capture per \
            tunnel egress into --out (TUNNEL.pcap), the ICMP errors the gateway sends (icmp-errors.pcap) and \
            the drops (drops.pcap, with the reasons in drops.txt). --events applies what-if events at capture \
            time (a tunnel fails, a route is added, an update trace is applied; see docs/replay.md). --report \
            writes the report as one self-contained HTML page (charts of the traffic per egress over capture \
            time with the events marked, the phases, drops and latency). The same input gives byte-identical \
            output files.
            """)

    @Option(name: .long, help: "The gateway configuration (YAML).")
    var config: String

    @Option(name: .long, help: "The capture to replay.")
    var pcap: String

    @Option(name: .long, help: "Directory for the output captures (made if missing); without it, only counts.")
    var out: String?

    @Option(name: .long, help: "Replay the capture this many times.")
    var loop: Int = 1

    @Option(name: .long, help: "What-if events file.")
    var events: String?

    @Option(name: .long, help: "top (as fast as possible), real (capture pace), or xN (N times the capture pace); paced, a silence over 10 s is shortened to 10 s.")
    var speed: String = "top"

    @Flag(name: .long, help: "Print the report as one JSON object.")
    var json = false

    @Option(name: .long, help: "Also write the report as an HTML page (charts and tables; one file, no script).")
    var report: String?

    func validate() throws {
        guard loop >= 1 else { throw ValidationError("--loop must be at least 1") }
        guard Self.parseSpeed(speed) != nil else {
            throw ValidationError("--speed must be top, real or xN (e.g. x2, x0.5), got '\(speed)'")
        }
    }

    static func parseSpeed(_ text: String) -> ReplaySpeed? {
        if text == "top" { return .top }
        if text == "real" { return .paced(1) }
        if text.hasPrefix("x"), let factor = Double(text.dropFirst()), factor > 0 { return .paced(factor) }
        return nil
    }

    func run() throws {
        let gatewayConfig: GatewayConfig
        do {
            gatewayConfig = try GatewayConfig.load(path: config)
        } catch {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            throw ExitCode(1)
        }
        var replayEvents: [ReplayEvent] = []
        if let events {
            do {
                replayEvents = try ReplayEvent.parse(try readTextFile(events), file: events)
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
        }
        if let out { try makeDirectory(out) }
        let (router, controller) = try gatewayConfig.makeRouter(at: .zero)
        let gateway = ReplayGateway(
            router: router, controller: controller, pipeline: gatewayConfig.pipelineConfiguration(),
            tunnelNames: gatewayConfig.tunnels.map(\.name), connectionNames: gatewayConfig.connections.map(\.name),
            loadTrace: { path in
                try UpdateTrace.load(path: path).updates.map { (announce: $0.kind == .announce, prefix: .v4($0.prefix)) }
            })
        let replayer = Replayer(
            settings: ReplaySettings(
                capture: pcap, outputDirectory: out, loops: loop, speed: Self.parseSpeed(speed)!,
                events: replayEvents),
            gateway: gateway)
        if !json {
            replayer.progress = { packets, seconds in
                printError("replayed \(packets) packets in \(String(Int(seconds))) s (\(packets / max(1, Int(seconds))) packets/s)")
            }
        }
        do {
            let result = try replayer.run()
            print(json ? result.json : result.text)
            if let report {
                let inputs = ReplayPage.Inputs(configuration: config, capture: pcap, events: events, loops: loop)
                try ReplayPage(report: result, inputs: inputs).write(to: report)
                if !json { print("Report page: \(report)") }
            }
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}
