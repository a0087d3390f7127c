import ArgumentParser
import Logging
import Metrics
import Prometheus
import TandemDaemon
import TandemLinux

#if canImport(Glibc)
    import Glibc
#endif

/// `tandem run`: the gateway, in the foreground, in the current network namespace.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the gateway: forward between TUN devices (userspace mode) or program the kernel (kernel mode).",
        discussion: """
            Needs CAP_NET_ADMIN (root). Makes the TUN devices of the configuration, installs its policy-routing \
            rules, tunnel tables and remote routes (marked with linux.protocol, in linux.table), learns the routes \
            of the 'learning' section, keeps only CAP_NET_ADMIN and CAP_NET_RAW, and forwards. Logs one line per \
            event on standard error; "tandem: ready" says it forwards. SIGHUP reloads the file (all or nothing: a \
            file with errors changes nothing). SIGTERM or SIGINT stops it and removes what it installed, unless \
            linux.keep-routes-on-exit is true. Under systemd ($NOTIFY_SOCKET set) it also sends READY=1, \
            RELOADING=1, STOPPING=1, STATUS= and watchdog pings: see docs/systemd.md and contrib/systemd. \
            See docs/run.md.
            """)

    @Option(name: .long, help: "The configuration file (YAML).")
    var config: String

    @Option(name: .long, help: "The least severe log level written: debug, info, warning or error.")
    var logLevel: String = "info"

    @Option(name: .long, help: "The control socket for tandem show and tandem lookup (default: /run/tandem/<gateway.name>.sock).")
    var controlSocket: String?

    func run() throws {
        // A closed standard error (the supervisor's pipe gone) must cost log lines, not the process: with SIGPIPE
        // ignored, a write to it fails with EPIPE, which the log counts and drops.
        signal(SIGPIPE, SIG_IGN)
        // Standard error closed (2>&-): the log's writer must see it closed (it then writes nothing and counts each
        // line dropped), and no descriptor of the daemon's may take its number (the signalfd below would): the
        // writer first, then /dev/null on every closed standard descriptor.
        _ = LogOutput.standardError
        FileDescriptor.occupyClosedStandardDescriptors()
        // Then: block the signals (every thread made from here on inherits that) and read them from a
        // descriptor, so that SIGTERM always goes through the cleanup.
        let signals: SignalSource
        do {
            signals = try SignalSource([SIGTERM, SIGINT, SIGHUP])
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        guard let level = EventLog.Level(name: logLevel) else {
            printError("error: --log-level must be debug, info, warning or error, got '\(logLevel)'")
            throw ExitCode(64)
        }
        // One log handler and one metrics registry for the process: the daemon's lines and any library's go
        // through the same "tandem: ..." format, and swift-metrics metrics land in the /metrics exposition.
        LoggingSystem.bootstrap { label in TandemLogHandler(label: label, level: level.loggerLevel) }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: DaemonMetrics.shared.registry))
        let log = EventLog(logger: Logger(label: "tandem"))
        // systemd's variables, read once and removed so that nothing this process runs inherits them.
        let watchdog = SystemdWatchdog.intervalFromEnvironment()
        var serviceManager: SystemdNotifySocket?
        do {
            serviceManager = try SystemdNotifySocket.fromEnvironment()
        } catch {
            log.warning("systemd notifications off: \(error)")
        }
        let daemon: Daemon
        do {
            daemon = try Daemon(
                configPath: config, signals: signals, log: log, serviceManager: serviceManager,
                watchdogMicroseconds: watchdog)
        } catch {
            log.error("\(error)")
            throw ExitCode(1)
        }
        daemon.controlSocketPath = controlSocket
        let status = daemon.run()
        if status != 0 { throw ExitCode(status) }
    }
}
