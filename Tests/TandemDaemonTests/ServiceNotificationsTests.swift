import TandemKernelFake
import TandemLinux
import TandemRouting
import Testing

@testable import TandemDaemon

/// systemd's notifications on a recording channel with a manual clock: the order of the messages at start, reload,
/// refused reload and stop; STATUS= only when it changes; the watchdog's cadence. No root, no socket.
struct ServiceNotificationsTests {
    /// Stands in for systemd: keeps what it is sent; can be made to fail.
    final class RecordingChannel: ServiceManagerChannel {
        var messages: [String] = []
        var failure: SystemError?
        func send(_ message: String) throws(SystemError) {
            if let failure { throw failure }
            messages.append(message)
        }
    }

    let channel = RecordingChannel()
    let clock = ManualClock(start: MonotonicInstant(nanoseconds: 5_000_000_000))
    let logBuffer = LogOutput.Buffer()

    func notifications(watchdogMicroseconds: UInt64? = nil) -> ServiceNotifications {
        ServiceNotifications(
            channel: channel, watchdogMicroseconds: watchdogMicroseconds, clock: clock,
            log: EventLog(output: logBuffer.output))
    }

    @Test func startReloadRefusedReloadStop() {
        let service = notifications()
        // SIGHUP before the start is over: systemd still waits for READY=1, so nothing about a reload.
        service.reloadStarted()
        service.reloadEnded()
        #expect(channel.messages.isEmpty)
        service.ready()
        service.ready()
        #expect(channel.messages == ["READY=1"])
        // A reload that takes: RELOADING=1 with the monotonic time in microseconds, then READY=1.
        clock.advance(by: .seconds(2))
        service.reloadStarted()
        #expect(service.isReloading && !service.isReady)
        service.reloadEnded()
        // A refused reload (a file with errors) says the same: the old file is in force and the service ready.
        clock.advance(by: .milliseconds(1500))
        service.reloadStarted()
        service.reloadEnded()
        service.stopping()
        service.stopping()
        service.ready()
        service.reloadStarted()
        #expect(
            channel.messages == [
                "READY=1",
                "RELOADING=1\nMONOTONIC_USEC=7000000", "READY=1",
                "RELOADING=1\nMONOTONIC_USEC=8500000", "READY=1",
                "STOPPING=1",
            ])
    }

    @Test func aStartThatFailsSaysStoppingOnly() {
        let service = notifications()
        service.stopping()
        service.ready()
        #expect(channel.messages == ["STOPPING=1"])
    }

    @Test func statusOnlyWhenItChanges() {
        let service = notifications()
        var status = ServiceStatus(mode: "userspace", tunnelsUp: 4, tunnels: 4, routes: 12)
        service.status(status.text)
        service.status(status.text)
        status.tunnelsUp = 2
        status.lastFailover = .init(time: "14:02:11", connection: "to-cloud", from: "a1", to: "a2")
        service.status(status.text)
        service.status(status.text)
        #expect(
            channel.messages == [
                "STATUS=userspace mode; tunnels 4/4 up; 12 routes",
                "STATUS=userspace mode; tunnels 2/4 up; 12 routes; last failover 14:02:11 to-cloud a1 -> a2",
            ])
        let single = ServiceStatus(mode: "kernel", tunnelsUp: 0, tunnels: 1, routes: 1)
        #expect(single.text == "kernel mode; tunnels 0/1 up; 1 route")
    }

    /// WATCHDOG_USEC=2 s: a ping at once, then one each second (half the interval), however often the loop turns.
    @Test func watchdogCadence() {
        let service = notifications(watchdogMicroseconds: 2_000_000)
        var pings: [UInt64] = []
        // 5 s of turns every 100 ms.
        for _ in 0..<50 {
            let before = channel.messages.count
            service.keepAlive()
            if channel.messages.count > before { pings.append(clock.now().nanoseconds) }
            clock.advance(by: .milliseconds(100))
        }
        #expect(Set(channel.messages) == ["WATCHDOG=1"])
        #expect(pings == [5, 6, 7, 8, 9].map { UInt64($0) * 1_000_000_000 })
        // The loop's wait ends by the next ping.
        #expect(service.nextPing == 10_000_000_000)
    }

    @Test func noWatchdogNoPings() {
        let service = notifications()
        service.keepAlive()
        clock.advance(by: .seconds(100))
        service.keepAlive()
        #expect(channel.messages.isEmpty)
        #expect(service.nextPing == nil)
    }

    @Test func withoutAChannelNothingIsDueAndNothingFails() {
        let service = ServiceNotifications(
            channel: nil, watchdogMicroseconds: 1_000_000, clock: clock, log: EventLog(output: logBuffer.output))
        service.ready()
        service.keepAlive()
        #expect(service.nextPing == nil)
    }

    /// A socket that refuses costs one warning, not one per ping.
    @Test func aFailingChannelIsOneWarning() {
        channel.failure = SystemError(code: 111, operation: "notifying /run/systemd/notify")
        let service = notifications(watchdogMicroseconds: 1_000)
        for _ in 0..<5 {
            service.keepAlive()
            clock.advance(by: .seconds(1))
        }
        let warnings = logBuffer.lines.filter { $0.contains("systemd notification WATCHDOG=1") }
        #expect(warnings.count == 1)
    }
}

/// The failover a STATUS= line names comes from the core's selection events.
struct ServiceStatusFailoverTests {
    @Test func aFailoverReachesTheHook() throws {
        let fixture = GatewayFixture()
        let gateway = try fixture.gateway()
        var seen: [String] = []
        gateway.onFailover = { seen.append("\($0) \($1) -> \($2)") }
        try gateway.start(ingressIndex: fixture.ingressIndex)
        // a1 stops answering: after its down-count, traffic moves to a2.
        let a1 = TunnelID(0)
        let a2 = TunnelID(1)
        for _ in 0..<4 {
            fixture.clock.advance(by: .milliseconds(20))
            gateway.handle([.lost(a1), .answered(a2, rtt: .milliseconds(1))], at: fixture.clock.now().nanoseconds)
        }
        #expect(seen == ["c1 a1 -> a2"])
    }
}

/// A long start pings: learning 10 000 routes at start calls the keep-alive hook (every 4096 routes, and between the
/// start's steps), and with a 2 ms watchdog (a ping due each 1 ms) on a clock that moves 1 ms per call, each call
/// is a WATCHDOG=1.
struct ServiceKeepAliveDuringStartTests {
    @Test func learningAFullTableAtStartKeepsThePingsGoing() throws {
        let fixture = GatewayFixture()
        for index in 0..<10_000 { fixture.kernel.install(fixture.birdRoute(index)) }
        let gateway = try fixture.gateway(GatewayFixture.fullTableYAML)
        let channel = ServiceNotificationsTests.RecordingChannel()
        let service = ServiceNotifications(
            channel: channel, watchdogMicroseconds: 2_000, clock: fixture.clock,
            log: EventLog(output: fixture.logBuffer.output))
        var calls = 0
        gateway.keepAlive = {
            calls += 1
            fixture.clock.advance(by: .milliseconds(1))
            service.keepAlive()
        }
        try gateway.checkHost()
        try gateway.learnInitialRoutes()
        let whileLearning = calls
        try gateway.start(ingressIndex: fixture.ingressIndex)
        // After the dump, at 4096 and 8192 routes; then between the start's steps.
        #expect(whileLearning == 3)
        #expect(calls > whileLearning)
        #expect(channel.messages.count == calls)
        #expect(Set(channel.messages) == ["WATCHDOG=1"])
    }
}
