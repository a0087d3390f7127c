// What `tandem run` tells the service manager (systemd's notification protocol, sd_notify(3)): READY=1 once the
// configured state is in the kernel and the pipeline runs, RELOADING=1 with MONOTONIC_USEC when SIGHUP starts a
// reload and READY=1 when it ends (whether the new file took or was refused: the service is ready either way),
// STOPPING=1 on the way out, STATUS= a line for `systemctl status` when it changes, and WATCHDOG=1 at half the
// watchdog interval. The pings come from the control thread (tandem-ctl) at the end of its turns and between the
// steps of a long start or reload, so a control thread that is stuck stops them and systemd restarts the daemon.
// The channel is a seam: systemd's socket in the daemon, a recorder in the tests; time is an injected clock.

import TandemLinux
import TandemRouting

/// Where the notifications go: systemd's socket (``SystemdNotifySocket``) or a test's recorder.
public protocol ServiceManagerChannel: AnyObject {
    /// Sends one message (one or more "KEY=value" lines joined by "\n") as one datagram.
    func send(_ message: String) throws(SystemError)
}

extension SystemdNotifySocket: ServiceManagerChannel {}

/// The daemon's side of the notification protocol: which message is due, and when the next watchdog ping is.
final class ServiceNotifications {
    let channel: (any ServiceManagerChannel)?
    /// Nanoseconds between two pings (half of $WATCHDOG_USEC); nil without a watchdog.
    let pingInterval: UInt64?
    let clock: any MonotonicClock
    let log: EventLog

    /// READY=1 went out and no reload is under way.
    private(set) var isReady = false
    /// READY=1 went out once (a reload before it says nothing: systemd is still waiting for the start).
    private(set) var wasReady = false
    private(set) var isReloading = false
    private(set) var isStopping = false
    /// The last STATUS= sent.
    private(set) var lastStatus: String?
    /// When the last WATCHDOG=1 went out (monotonic ns).
    private(set) var lastPing: UInt64?
    /// Only the first failure to send is a warning: the next ones would repeat it every ping.
    private var warned = false

    /// - Parameters:
    ///   - channel: nil when no service manager listens ($NOTIFY_SOCKET unset): every call does nothing.
    ///   - watchdogMicroseconds: $WATCHDOG_USEC for this process, or nil.
    init(
        channel: (any ServiceManagerChannel)?, watchdogMicroseconds: UInt64?, clock: any MonotonicClock,
        log: EventLog
    ) {
        self.channel = channel
        pingInterval = channel == nil ? nil : watchdogMicroseconds.map { max($0 * 1000 / 2, 1) }
        self.clock = clock
        self.log = log
    }

    /// The configured state is in the kernel and the daemon forwards: READY=1, once.
    func ready() {
        guard !wasReady, !isStopping else { return }
        wasReady = true
        isReady = true
        send("READY=1")
    }

    /// SIGHUP: a reload starts. RELOADING=1 with the time on CLOCK_MONOTONIC (systemd 253's Type=notify-reload
    /// checks that it is later than its signal).
    func reloadStarted() {
        guard wasReady, !isReloading, !isStopping else { return }
        isReloading = true
        isReady = false
        send("RELOADING=1\nMONOTONIC_USEC=\(clock.now().nanoseconds / 1000)")
    }

    /// The reload ended, the new file in force or the old one kept: READY=1.
    func reloadEnded() {
        guard isReloading, !isStopping else { return }
        isReloading = false
        isReady = true
        send("READY=1")
    }

    /// The daemon stops: STOPPING=1, once.
    func stopping() {
        guard !isStopping else { return }
        isStopping = true
        isReady = false
        send("STOPPING=1")
    }

    /// STATUS=`text` if it differs from the last one sent.
    func status(_ text: String) {
        guard channel != nil, text != lastStatus else { return }
        lastStatus = text
        send("STATUS=\(text)")
    }

    /// WATCHDOG=1 if half the watchdog interval has passed since the last ping. Called at the end of each turn of
    /// the control loop and between the steps of a long start, reload or stop (systemd's watchdog also runs while a
    /// unit stops: removing a full table's routes must not be taken for a hang).
    func keepAlive() {
        guard let pingInterval else { return }
        let now = clock.now().nanoseconds
        if let lastPing, now &- lastPing < pingInterval { return }
        lastPing = now
        send("WATCHDOG=1")
    }

    /// When the next ping is due (monotonic ns), for the event loop's wait; nil without a watchdog.
    var nextPing: UInt64? {
        guard let pingInterval else { return nil }
        return lastPing.map { $0 &+ pingInterval } ?? clock.now().nanoseconds
    }

    private func send(_ message: String) {
        guard let channel else { return }
        do {
            try channel.send(message)
        } catch {
            guard !warned else { return }
            warned = true
            log.warning("systemd notification \(message.split(separator: "\n").first ?? ""): \(error)")
        }
    }
}
