// The replay harness: a capture file through the same pipeline the gateway runs, with what-if events at
// capture time, into per-egress capture files. The same input gives byte-identical output: every timestamp
// comes from the capture, batches break at the same packets, and nothing reads the wall clock except the
// latency figures.

import Histogram
import TandemDataplane
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// How fast to replay.
public enum ReplaySpeed: Hashable, Sendable {
    /// As fast as the pipeline goes.
    case top
    /// At the capture's pace times a factor (1 = real time).
    case paced(Double)
}

/// What a replay reads, writes and does.
public struct ReplaySettings: Sendable {
    public var capture: String
    /// Where per-egress captures go; nil = count only.
    public var outputDirectory: String?
    public var loops: Int
    public var speed: ReplaySpeed
    public var events: [ReplayEvent]
    public var batchSize: Int
    /// With a paced speed, the longest wait between two records, in wall-clock nanoseconds: a longer silence in
    /// the capture is shortened to it (tcpreplay's --maxsleep). A record stamped years ahead would otherwise stall
    /// the replay for years. Only the wall clock is affected: events and timers still act at capture time.
    public var maximumPacingGap: UInt64

    /// 10 s: a capture's real pauses (a quiet link, a failover test) are kept; a clock jump or a bad record is not.
    public static let defaultMaximumPacingGap: UInt64 = 10_000_000_000

    public init(
        capture: String, outputDirectory: String? = nil, loops: Int = 1, speed: ReplaySpeed = .top,
        events: [ReplayEvent] = [], batchSize: Int = 256, maximumPacingGap: UInt64 = defaultMaximumPacingGap
    ) {
        self.capture = capture
        self.outputDirectory = outputDirectory
        self.loops = loops
        self.speed = speed
        self.events = events
        self.batchSize = batchSize
        self.maximumPacingGap = maximumPacingGap
    }
}

/// The gateway a replay runs through: made from a configuration by the caller.
public struct ReplayGateway {
    public var router: Router
    public var controller: FailoverController
    public var pipeline: PipelineConfiguration
    public var tunnelNames: [String]
    public var connectionNames: [String]
    /// Reads an update trace into (announce?, prefix) in order; used by `trace` events.
    public var loadTrace: (String) throws -> [(announce: Bool, prefix: RoutePrefix)]

    public init(
        router: Router, controller: FailoverController, pipeline: PipelineConfiguration, tunnelNames: [String],
        connectionNames: [String], loadTrace: @escaping (String) throws -> [(announce: Bool, prefix: RoutePrefix)]
    ) {
        self.router = router
        self.controller = controller
        self.pipeline = pipeline
        self.tunnelNames = tunnelNames
        self.connectionNames = connectionNames
        self.loadTrace = loadTrace
    }
}

/// Why a replay stopped.
public enum ReplayError: Error, CustomStringConvertible {
    case pcap(PcapError)
    case event(ReplayEvent, String)
    case routing(String)

    public var description: String {
        switch self {
        case .pcap(let error): "\(error)"
        case .event(let event, let message): "event on line \(event.line) (\(event)): \(message)"
        case .routing(let message): "routing: \(message)"
        }
    }
}

/// Runs replays.
public final class Replayer {
    let settings: ReplaySettings
    var gateway: ReplayGateway
    let pipeline: Pipeline
    let batch: PacketBatch
    /// Called about once a second of wall time with the packets replayed so far.
    public var progress: ((_ packets: Int, _ seconds: Double) -> Void)?

    public init(settings: ReplaySettings, gateway: ReplayGateway) {
        self.settings = settings
        self.gateway = gateway
        pipeline = Pipeline(
            plane: gateway.router.plane, configuration: gateway.pipeline, batchCapacity: settings.batchSize,
            countFlows: true)
        batch = PacketBatch(capacity: settings.batchSize, slotSize: 65_535)
    }

    /// Replays the capture `loops` times and reports.
    public func run() throws(ReplayError) -> ReplayReport {
        try checkEventNames()
        var output: ReplayOutput
        do {
            output = try ReplayOutput(directory: settings.outputDirectory, tunnelNames: gateway.tunnelNames)
        } catch { throw .pcap(error) }
        var report = ReplayReport(tunnelNames: gateway.tunnelNames)
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        /// The capture time of the next event or timer; nil = to be computed.
        var nextBoundary: UInt64?
        var pendingEvents = settings.events[...]
        let clock = SystemMonotonicClock()
        let wallStart = clock.now()
        var lastProgress = wallStart
        var firstTimestamp: UInt64?
        var loopOffset: UInt64 = 0
        var fileSpan: UInt64 = 0
        var lastTimestamp: UInt64 = 0
        var pacing = ReplayPacing()

        func processBatch() throws(ReplayError) {
            guard batch.count > 0 else { return }
            let start = clock.now()
            pipeline.process(batch, into: &output)
            let nanoseconds = (clock.now() - start).totalNanoseconds
            _ = latency.record(UInt64(max(0, nanoseconds)), count: UInt64(batch.count))
            batch.removeAll()
            if let failure = output.failure { throw .pcap(failure) }
        }

        for loop in 0..<max(1, settings.loops) {
            let reader: PcapReader
            do { reader = try PcapReader(path: settings.capture) } catch { throw .pcap(error) }
            while true {
                let record: PcapRecord?
                do { record = try reader.next() } catch { throw .pcap(error) }
                guard let record else { break }
                let timestamp = record.timestamp &+ loopOffset
                if firstTimestamp == nil {
                    firstTimestamp = timestamp
                    report.firstTimestamp = timestamp
                    output.timeline.begin(at: timestamp)
                }
                lastTimestamp = max(lastTimestamp, timestamp)
                report.captureRecords += 1
                guard record.isIP else {
                    report.notIP += 1
                    continue
                }
                // Events and timers due by this packet's time act before it (and after the packets before it).
                // The next such time changes only when they act, so it is computed then, not per packet.
                if nextBoundary == nil { nextBoundary = boundary(pendingEvents.first, firstTimestamp!) }
                if timestamp >= nextBoundary! {
                    let boundaryTime = nextBoundary!
                    nextBoundary = nil
                    let now = MonotonicInstant(nanoseconds: timestamp)
                    try processBatch()
                    report.closePhase(at: boundaryTime, counts: &output.phaseCounts)
                    while let event = pendingEvents.first, firstTimestamp! &+ event.offset <= timestamp {
                        pendingEvents.removeFirst()
                        try apply(
                            event, at: MonotonicInstant(nanoseconds: firstTimestamp! &+ event.offset), report: &report,
                            timeline: &output.timeline)
                    }
                    do {
                        let changes = try gateway.controller.advance(to: now, router: gateway.router)
                        report.log += changes.map(\.description)
                        for change in changes { mark(change, on: &output.timeline) }
                    } catch { throw .routing("\(error)") }
                }
                if case .paced(let factor) = settings.speed, factor > 0 {
                    let due = pacing.due(of: timestamp, factor: factor, maximumGap: settings.maximumPacingGap)
                    if wallStart + .nanoseconds(due) > clock.now() {
                        try processBatch()
                        sleep(until: wallStart + .nanoseconds(due), clock: clock)
                    }
                }
                if !batch.append(record.packet, timestamp: timestamp) {
                    try processBatch()
                    if !batch.append(record.packet, timestamp: timestamp) { report.tooLong += 1 }
                }
                if batch.isFull { try processBatch() }
                if report.captureRecords & 0xFFFF == 0, let progress, (clock.now() - lastProgress) >= .seconds(1) {
                    lastProgress = clock.now()
                    progress(report.captureRecords, Double((lastProgress - wallStart).totalNanoseconds) / 1e9)
                }
            }
            try processBatch()
            // The next loop follows this one 1 us after its last packet, so time only moves forward.
            if loop == 0, let first = firstTimestamp { fileSpan = lastTimestamp &- first &+ 1_000 }
            loopOffset = fileSpan &* UInt64(loop + 1)
        }
        report.closePhase(at: lastTimestamp, counts: &output.phaseCounts)
        if firstTimestamp != nil { output.timeline.extend(through: lastTimestamp) }
        report.timeline = output.timeline
        do { try output.close() } catch { throw .pcap(error) }
        report.wallSeconds = Double((clock.now() - wallStart).totalNanoseconds) / 1e9
        report.captureSeconds = Double(lastTimestamp &- (firstTimestamp ?? lastTimestamp)) / 1e9
        report.counters = pipeline.counters
        report.flows = pipeline.flows?.count ?? 0
        report.latency = (latency.valueAtPercentile(50), latency.valueAtPercentile(99), latency.valueAtPercentile(99.9), latency.max)
        return report
    }

    /// Refuses, before any packet is read, events that name a tunnel or connection the gateway does not have.
    private func checkEventNames() throws(ReplayError) {
        for event in settings.events {
            switch event.action {
            case .tunnel(let name, _) where !gateway.tunnelNames.contains(name):
                throw .event(event, "no tunnel named '\(name)'; the tunnels are \(gateway.tunnelNames.joined(separator: ", "))")
            case .addRoute(_, let name, _, _, _), .withdrawRoute(_, let name, _), .trace(_, let name):
                if !gateway.connectionNames.contains(name) {
                    throw .event(
                        event,
                        "no connection named '\(name)'; the connections are \(gateway.connectionNames.joined(separator: ", "))")
                }
            default:
                break
            }
        }
    }

    /// The earliest of the next event's time and the next health timer (UInt64.max if neither).
    private func boundary(_ event: ReplayEvent?, _ first: UInt64) -> UInt64 {
        let eventTime = event.map { first &+ $0.offset } ?? .max
        let timer = gateway.controller.nextDeadline()?.nanoseconds ?? .max
        return min(eventTime, timer)
    }

    /// Applies one what-if event.
    private func apply(
        _ event: ReplayEvent, at instant: MonotonicInstant, report: inout ReplayReport,
        timeline: inout EgressTimeline
    ) throws(ReplayError) {
        report.log.append("\(instant) event: \(event)")
        timeline.mark(.whatIf, event.summary, at: instant.nanoseconds)
        func connection(_ name: String) throws(ReplayError) -> ConnectionID {
            guard let index = gateway.connectionNames.firstIndex(of: name) else {
                throw .event(event, "no connection named '\(name)'")
            }
            return ConnectionID(index)
        }
        do {
            switch event.action {
            case .tunnel(let name, let up):
                guard let index = gateway.tunnelNames.firstIndex(of: name) else {
                    throw ReplayError.event(event, "no tunnel named '\(name)'")
                }
                let events = try gateway.controller.force(
                    TunnelID(index), to: up ? .up : .down, at: instant, router: gateway.router)
                report.log += events.map(\.description)
                for change in events { mark(change, on: &timeline) }
            case .addRoute(let prefix, let name, let source, let metric, let weight):
                try gateway.router.add(
                    Route(prefix: prefix, source: source, connection: try connection(name), weight: weight, metric: metric))
            case .withdrawRoute(let prefix, let name, let source):
                gateway.router.remove(prefix, source: source, connection: try connection(name))
            case .trace(let path, let name):
                let id = try connection(name)
                let updates = try gateway.loadTrace(path)
                var applied = 0
                for update in updates {
                    if update.announce {
                        if case .installed = try gateway.router.learn(update.prefix, via: id) { applied += 1 }
                    } else if gateway.router.withdraw(update.prefix, via: id) {
                        applied += 1
                    }
                }
                report.log.append("\(instant) trace \(path): \(updates.count) updates, \(applied) applied")
            }
        } catch let error as ReplayError {
            throw error
        } catch {
            throw .event(event, "\(error)")
        }
    }

    /// A change of the failover controller on the report's timeline, with names instead of indexes and roles:
    /// "to-cloud: a1 -> a2 (active tunnel down)", "a1 health down (3 consecutive probe failures (last: timeout))".
    private func mark(_ change: FailoverController.Event, on timeline: inout EgressTimeline) {
        let connection = gateway.router.configuration.connections[change.connection.index]
        func name(_ selection: TunnelSelection) -> String {
            switch selection {
            case .active: connection.tunnels.first.map { gateway.tunnelNames[$0.index] } ?? "active"
            case .standby: connection.tunnels.count > 1 ? gateway.tunnelNames[connection.tunnels[1].index] : "standby"
            case .none: "none"
            }
        }
        let tunnel = gateway.tunnelNames[change.tunnel.index]
        let event = change.event
        switch event.kind {
        case .selectionChanged(let from, let to):
            timeline.mark(
                .selection, "\(connection.name): \(name(from)) -> \(name(to)) (\(event.reason))",
                at: event.time.nanoseconds)
        default:
            timeline.mark(.health, "\(tunnel) \(event.kind) (\(event.reason))", at: event.time.nanoseconds)
        }
    }

    private func sleep(until due: MonotonicInstant, clock: SystemMonotonicClock) {
        let now = clock.now()
        guard due > now else { return }
        let delta = (due - now).totalNanoseconds
        var request = timespec(tv_sec: Int(delta / 1_000_000_000), tv_nsec: Int(delta % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
