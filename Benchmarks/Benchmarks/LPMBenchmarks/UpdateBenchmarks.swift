// Update benchmarks: one iteration = replaying the whole update trace on top of a full IPv4
// table (announce = insert, withdraw = remove). The table keeps the state of earlier replays,
// which is valid: a withdrawal of an absent prefix returns nil, an announcement of a present one
// replaces its value.
//
// The second variant runs a reader thread that looks up addresses (inside announced prefixes)
// the whole time the trace is replayed, and reports its lookup rate.

import Benchmark
import Dispatch
import Foundation
import Synchronization
import TandemDatasets
import TandemLPM
import TandemPacket

/// One trace entry, ready to apply.
struct TableUpdate: Sendable {
    var announce: Bool
    var prefix: IPv4Prefix
    var value: UInt32
}

final class UpdateFixture {
    let table: IPv4Table
    let updates: [TableUpdate]
    let readerAddresses: [IPv4Address]

    init(withReader: Bool) {
        table = fullIPv4Table()
        let trace: UpdateTrace
        do {
            trace = try UpdateTrace.loadOrSynthesize(over: routeTable.ipv4)
        } catch {
            fatalError("LPMBenchmarks: cannot read the update trace: \(error)")
        }
        let announcements = trace.updates.count { $0.kind == .announce }
        reportOnce(
            "trace-origin",
            "LPMBenchmarks: update trace \(trace.origin): \(trace.updates.count) updates"
                + " (\(announcements) announcements, \(trace.updates.count - announcements) withdrawals)")
        // The value stands for the next-hop group of the announcing neighbour.
        updates = trace.updates.map {
            TableUpdate(announce: $0.kind == .announce, prefix: $0.prefix, value: $0.nextHop.rawValue % 1024)
        }
        readerAddresses = withReader ? ipv4Addresses(.hit) : []
    }
}

/// Applies every update; returns how many changed the set of prefixes (new or removed).
@inline(never)
func replay(_ updates: [TableUpdate], on table: IPv4Table) -> Int {
    var changed = 0
    for update in updates {
        if update.announce {
            if table.insert(update.prefix, value: update.value) == nil { changed += 1 }
        } else {
            if table.remove(update.prefix) != nil { changed += 1 }
        }
    }
    return changed
}

/// A thread that looks addresses up until told to stop, counting its lookups.
final class ConcurrentReader: @unchecked Sendable {
    struct Result {
        var lookups: Int
        var elapsed: Duration
        var lookupsPerSecond: Double { Double(lookups) / seconds(elapsed) }
    }

    private let stopFlag = Atomic<Bool>(false)
    private let started = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private var result = Result(lookups: 0, elapsed: .zero)  // written by the reader before `finished`

    /// Starts the thread and returns once it is looking up.
    init(table: IPv4Table, addresses: [IPv4Address]) {
        precondition(!addresses.isEmpty)
        let thread = Thread { [self] in
            self.run(table, addresses)
            self.finished.signal()
        }
        thread.name = "LPM reader"
        thread.start()
        started.wait()
    }

    private func run(_ table: IPv4Table, _ addresses: [IPv4Address]) {
        addresses.withUnsafeBufferPointer { addresses in
            let chunk = 4096
            var lookups = 0
            var index = 0
            var sum: UInt32 = 0
            let clock = ContinuousClock()
            started.signal()
            let start = clock.now
            while !stopFlag.load(ordering: .relaxed) {
                let end = min(index + chunk, addresses.count)
                sum &+= lookupOneByOne(table, UnsafeBufferPointer(rebasing: addresses[index..<end]))
                lookups += end - index
                index = end == addresses.count ? 0 : end
            }
            result = Result(lookups: lookups, elapsed: start.duration(to: clock.now))
            blackHole(sum)
        }
    }

    /// Stops the thread and returns what it did.
    func stop() -> Result {
        stopFlag.store(true, ordering: .relaxed)
        finished.wait()
        return result
    }
}

func seconds(_ duration: Duration) -> Double {
    let parts = duration.components
    return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
}

func registerUpdateBenchmarks() {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, LPMMetric.updatesPerSecond, LPMMetric.nanosecondsPerUpdate],
        timeUnits: .microseconds,
        units: LPMMetric.units,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 50
    )

    Benchmark("IPv4 update trace replay", configuration: configuration.forAllocationCheck) { benchmark, fixture in
        let clock = ContinuousClock()
        let start = clock.now
        blackHole(replay(fixture.updates, on: fixture.table))
        recordUpdateRate(benchmark, count: fixture.updates.count, elapsed: start.duration(to: clock.now))
    } setup: {
        UpdateFixture(withReader: false)
    }

    var readerConfiguration = configuration
    readerConfiguration.metrics += [LPMMetric.readerLookupsPerSecond, LPMMetric.readerPicosecondsPerLookup]
    Benchmark("IPv4 update trace replay, concurrent reader", configuration: readerConfiguration) {
        benchmark, fixture in
        // Starting the reader is not part of the measurement: startMeasurement() below restarts it.
        let reader = ConcurrentReader(table: fixture.table, addresses: fixture.readerAddresses)
        let clock = ContinuousClock()
        benchmark.startMeasurement()
        let start = clock.now
        blackHole(replay(fixture.updates, on: fixture.table))
        let elapsed = start.duration(to: clock.now)
        benchmark.stopMeasurement()
        let read = reader.stop()
        recordUpdateRate(benchmark, count: fixture.updates.count, elapsed: elapsed)
        benchmark.measurement(LPMMetric.readerLookupsPerSecond, Int(read.lookupsPerSecond))
        benchmark.measurement(LPMMetric.readerPicosecondsPerLookup, Int(1e12 / read.lookupsPerSecond))
    } setup: {
        UpdateFixture(withReader: true)
    }
}

private func recordUpdateRate(_ benchmark: Benchmark, count: Int, elapsed: Duration) {
    let elapsedSeconds = seconds(elapsed)
    benchmark.measurement(LPMMetric.updatesPerSecond, Int(Double(count) / elapsedSeconds))
    benchmark.measurement(LPMMetric.nanosecondsPerUpdate, Int((elapsedSeconds * 1e9 / Double(count)).rounded()))
}
