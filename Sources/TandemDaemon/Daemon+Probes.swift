// The control thread's timers: the health-check probes (sent, timed out, answered: their outcomes go to the core),
// the core's own timers (preempt delay, damping, retries of refused changes), and the device watch.

import TandemConfig
import TandemLinux
import TandemRouting

extension Daemon {
    /// Opens the probe sockets; the first probes go out at once.
    func startProbes() throws(DaemonError) {
        probes = try HealthProbes(config: config, now: clock.now().nanoseconds)
        if let probes, !probes.probes.isEmpty {
            log.info("health checks: \(probes.probes.count) tunnel(s) probed")
        }
    }

    /// How long the event loop may wait: until the next probe, probe timeout, core timer or device check, at most 1 s.
    func pollTimeout(now: UInt64) -> Int32 {
        var deadline = now &+ 1_000_000_000
        if let next = probes?.nextDeadline { deadline = min(deadline, next) }
        if let next = gateway.nextDeadline { deadline = min(deadline, next) }
        deadline = min(deadline, nextDeviceCheck)
        if ingressQueue != nil { deadline = min(deadline, nextIngressQueueLook) }
        if let next = loop?.nextDeadline { deadline = min(deadline, next) }
        if let next = service.nextPing { deadline = min(deadline, next) }
        guard deadline > now else { return 0 }
        // Round up: waking a little late is fine, waking early spins.
        return Int32((deadline - now + 999_999) / 1_000_000)
    }

    /// Sends the probes that are due, declares lost those that timed out, fires the core's timers, checks devices and
    /// the ingress queues.
    func runTimers() {
        let now = clock.now().nanoseconds
        if let outcomes = probes?.fire(now: now) { gateway.handle(outcomes, at: now) }
        gateway.tick()
        checkDevices(now: now)
        governIngressQueue(now: now)
    }

    /// Reads the answers on a readable probe socket.
    func readProbeAnswers(on descriptor: CInt) {
        let now = clock.now().nanoseconds
        if let outcomes = probes?.readAnswers(on: descriptor, now: now) { gateway.handle(outcomes, at: now) }
    }
}
