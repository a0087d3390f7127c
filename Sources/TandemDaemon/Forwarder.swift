// The pipeline threads of userspace mode: one per queue of the ingress TUN device. Each thread reads its queue in
// batches, runs the pipeline, and writes what it forwards to the same-numbered queue of the tunnel's egress
// device, and the ICMP errors back to its ingress queue. The threads share nothing but the forwarding plane
// (lock-free) and the current setup, which a reload replaces whole: each thread picks the new one up between
// two batches, so no packet is lost to a reload. A deleted ingress device does not make a thread spin: the thread
// stops watching the dead queue and waits for the setup with the device made again (Daemon+Devices.swift). Each
// thread is named tandem-q<N> and gives up every capability before it reads its first packet.

import Synchronization
import TandemDataplane
import TandemLinux
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// What the threads forward with; replaced whole on reload, never changed.
final class ForwardingSetup: Sendable {
    /// The ingress device, whose queue N thread N reads.
    let ingress: TunDevice
    /// The plane of the router that the daemon's control thread changes.
    let plane: ForwardingPlane
    let pipeline: PipelineConfiguration
    /// Each tunnel's egress device, by tunnel index.
    let egress: [TunDevice]

    init(ingress: TunDevice, plane: ForwardingPlane, pipeline: PipelineConfiguration, egress: [TunDevice]) {
        self.ingress = ingress
        self.plane = plane
        self.pipeline = pipeline
        self.egress = egress
    }
}

/// The pipeline's output on one queue: forwarded packets to the egress queues, ICMP errors to the ingress queue.
struct TunOutput: PipelineOutput {
    let ingress: TunQueue
    let egress: [TunQueue]
    /// Packets the kernel did not take (queue full, or an error such as EIO while a link is down).
    var failedWrites: UInt64 = 0
    var failedReplies: UInt64 = 0

    mutating func forward(_ packet: UnsafeRawBufferPointer, tunnel: TunnelID, slot: Int?, timestamp: UInt64) {
        // An offload packet keeps its header, so that it stays one unit up to the real tunnel device.
        let header = slot != nil && ingress.vnetHeaderSize != 0 ? ingress.vnetHeader(ofSlot: slot!) : nil
        let taken = (try? egress[tunnel.index].write(packet, vnetHeader: header)) ?? false
        if !taken { failedWrites &+= 1 }
    }

    mutating func reply(_ packet: UnsafeRawBufferPointer, timestamp: UInt64) {
        let taken = (try? ingress.write(packet)) ?? false
        if !taken { failedReplies &+= 1 }
    }

    mutating func drop(_ packet: UnsafeRawBufferPointer, reason: DropReason, timestamp: UInt64) {}
}

/// What the threads have done, summed.
struct ForwarderTotals: Sendable {
    var pipeline = PipelineCounters(tunnels: 0)
    var failedWrites: UInt64 = 0
    var failedReplies: UInt64 = 0
    var readErrors: UInt64 = 0

    init() {}

    init(_ pipeline: Pipeline, _ output: TunOutput, readErrors: UInt64) {
        self.pipeline = pipeline.counters
        failedWrites = output.failedWrites
        failedReplies = output.failedReplies
        self.readErrors = readErrors
    }

    mutating func add(_ other: ForwarderTotals) {
        // A reload may add tunnels: the sum grows to the longer list.
        let missing = other.pipeline.perTunnel.count - pipeline.perTunnel.count
        if missing > 0 { pipeline.perTunnel += Array(repeating: TrafficCount(), count: missing) }
        pipeline.add(other.pipeline)
        failedWrites &+= other.failedWrites
        failedReplies &+= other.failedReplies
        readErrors &+= other.readErrors
    }
}

/// What one pipeline thread says of its queue, for the daemon's ``IngressQueueGovernor``: a relaxed store when the
/// thread wakes to packets and one when it has drained them, an add per batch.
final class QueueActivity: Sendable {
    /// When the thread woke to packets it has not drained since (monotonic ns); 0 while drained.
    let busySince = Atomic<UInt64>(0)
    let packetsRead = Atomic<UInt64>(0)

    var reading: IngressQueueGovernor.QueueReading {
        .init(busySince: busySince.load(ordering: .relaxed), packetsRead: packetsRead.load(ordering: .relaxed))
    }
}

/// The pipeline threads over one ingress device.
final class Forwarder: @unchecked Sendable {
    /// Packets per batch: enough to amortise a wakeup, few enough that a batch of 64 KiB offload packets (4 MiB)
    /// stays in cache-friendly reach.
    static let batchCapacity = 64

    let queueCount: Int
    let log: EventLog
    // The state the threads share is behind POSIX mutexes, which ThreadSanitizer sees (see PthreadMutex).
    private let setup: PthreadMutex<ForwardingSetup>
    private let version = Atomic<Int>(0)
    /// The setup version each thread runs with.
    private let running: PthreadMutex<[Int]>
    private let stopping = Atomic<Bool>(false)
    /// The counters of retired pipelines (a reload retires them) ...
    private let totals = PthreadMutex(ForwarderTotals())
    /// ... and each thread's current pipeline, published at most every `publishInterval`.
    private let live: PthreadMutex<[ForwarderTotals]>
    /// Each thread's queue, as its thread last said.
    private let activity: [QueueActivity]
    static let publishInterval: UInt64 = 100_000_000
    private var threads: [pthread_t] = []

    /// A thread that ended marks its slot in `running` with this: nothing waits for it any more.
    static let ended = Int.max
    /// How long ``replace(with:)`` waits for the threads to take a new setup.
    static let replaceTimeout: UInt64 = 2_000_000_000

    init(setup: ForwardingSetup, log: EventLog) {
        queueCount = setup.ingress.queues.count
        self.setup = PthreadMutex(setup)
        self.log = log
        running = PthreadMutex([Int](repeating: 0, count: queueCount))
        live = PthreadMutex([ForwarderTotals](repeating: ForwarderTotals(), count: queueCount))
        activity = (0..<queueCount).map { _ in QueueActivity() }
    }

    /// Starts one thread per ingress queue, named tandem-q<N>.
    func start() throws(DaemonError) {
        for queue in 0..<queueCount {
            do {
                threads.append(try SystemThread.start(name: "tandem-q\(queue)") { [self] in run(queue: queue) })
            } catch {
                throw DaemonError("\(error)")
            }
        }
    }

    /// Hands the threads a new setup and waits until each has taken it (between two of its batches).
    ///
    /// - Throws: ``DaemonError`` when a thread did not take it within ``replaceTimeout`` (it hangs in the
    ///   kernel); a thread that ended is not waited for.
    func replace(with newSetup: ForwardingSetup) throws(DaemonError) {
        setup.withLock { $0 = newSetup }
        let target = version.add(1, ordering: .sequentiallyConsistent).newValue
        let deadline = Self.now() &+ Self.replaceTimeout
        while running.withLock({ $0.contains { $0 < target } }) && !stopping.load(ordering: .relaxed) {
            if Self.now() > deadline {
                let late = running.withLock { slots in slots.indices.filter { slots[$0] < target } }
                throw DaemonError("pipeline thread(s) \(late.map { "tandem-q\($0)" }) did not take the new setup in 2 s")
            }
            usleep(1000)
        }
    }

    /// Whether every thread still runs.
    var allThreadsRunning: Bool { !running.withLock { $0.contains(Self.ended) } }

    /// Stops the threads and waits for them.
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
    }

    /// Everything counted so far: the retired pipelines' counters and the running ones' (at most
    /// `publishInterval` old).
    var summary: ForwarderTotals {
        var sum = totals.withLock { $0 }
        for current in live.withLock({ $0 }) { sum.add(current) }
        return sum
    }

    /// Each ingress queue, by queue number: how long it has stood undrained, and how much its thread has read.
    var queueReadings: [IngressQueueGovernor.QueueReading] { activity.map(\.reading) }

    private func run(queue index: Int) {
        defer { running.withLock { $0[index] = Self.ended } }
        // The packets this thread parses come from strangers: it needs no privilege to read and write its queues.
        do {
            try ProcessCapabilities.dropAllOfCallingThread()
        } catch {
            log.error("pipeline thread \(index): \(error); this queue is not served")
            return
        }
        let batch = PacketBatch(capacity: Self.batchCapacity, slotSize: 65_535)
        let poll: EventPoll
        do {
            poll = try EventPoll(capacity: 1)
        } catch {
            log.error("pipeline thread \(index): \(error); this queue is not served")
            return
        }
        var seen = -1
        var pipeline: Pipeline?
        var output: TunOutput?
        var queue: TunQueue?
        var readErrors: UInt64 = 0
        var published: UInt64 = 0
        while !stopping.load(ordering: .relaxed) {
            let current = version.load(ordering: .acquiring)
            if current != seen {
                fold(pipeline, output, readErrors: &readErrors, queue: index)
                let setup = setup.withLock { $0 }
                if let old = queue, old.fileDescriptor != setup.ingress.queues[index].fileDescriptor {
                    try? poll.remove(old.fileDescriptor)
                    queue = nil
                }
                if queue == nil {
                    queue = setup.ingress.queues[index]
                    do { try poll.add(queue!.fileDescriptor) } catch { log.error("pipeline thread \(index): \(error)") }
                }
                pipeline = Pipeline(
                    plane: setup.plane, configuration: setup.pipeline, batchCapacity: Self.batchCapacity)
                output = TunOutput(ingress: queue!, egress: setup.egress.map { $0.queues[index] })
                seen = current
                running.withLock { $0[index] = current }
            }
            guard let reading = queue else {
                // The device is gone: wait for the control thread to make it again (a new setup), without spinning.
                usleep(10_000)
                continue
            }
            do {
                guard try poll.wait(timeoutMilliseconds: 100) > 0 else { continue }
                activity[index].busySince.store(Self.now(), ordering: .relaxed)
                // Drain the queue: a full batch means more may be waiting.
                while true {
                    batch.removeAll()
                    let count = try reading.readBatch(into: batch, timestamp: Self.now())
                    activity[index].packetsRead.wrappingAdd(UInt64(count), ordering: .relaxed)
                    guard count > 0 else { break }
                    pipeline!.process(batch, into: &output!)
                    if count < batch.capacity { break }
                }
                activity[index].busySince.store(0, ordering: .relaxed)
                let now = Self.now()
                if now &- published >= Self.publishInterval {
                    published = now
                    publish(pipeline!, output!, readErrors: readErrors, queue: index)
                }
            } catch {
                activity[index].busySince.store(0, ordering: .relaxed)
                readErrors &+= 1
                if error.code == EBADFD || error.code == ENODEV {
                    // The device was deleted: its queue stays readable with an error forever (EPOLLERR).
                    log.warning("pipeline thread \(index): \(error): the device is gone; waiting for it to be made again")
                    try? poll.remove(reading.fileDescriptor)
                    queue = nil
                } else {
                    if readErrors == 1 { log.error("pipeline thread \(index): \(error)") }
                    usleep(1000)
                }
            }
        }
        fold(pipeline, output, readErrors: &readErrors, queue: index)
    }

    /// Adds a retiring pipeline's counters to the totals (and clears its live slot).
    private func fold(_ pipeline: Pipeline?, _ output: TunOutput?, readErrors: inout UInt64, queue: Int) {
        guard let pipeline, let output else { return }
        let retired = ForwarderTotals(pipeline, output, readErrors: readErrors)
        readErrors = 0
        totals.withLock { $0.add(retired) }
        live.withLock { $0[queue] = ForwarderTotals() }
    }

    /// Makes a running pipeline's counters visible to ``summary``.
    private func publish(_ pipeline: Pipeline, _ output: TunOutput, readErrors: UInt64, queue: Int) {
        let current = ForwarderTotals(pipeline, output, readErrors: readErrors)
        live.withLock { $0[queue] = current }
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }
}
