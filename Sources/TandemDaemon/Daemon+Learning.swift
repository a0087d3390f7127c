// Learning's effects: the route-notification socket in the event loop, and the dump of the watched table after the
// socket overflowed, made on a thread of its own (tandem-dump, without capabilities) so that a full table's dump
// never holds up the probes; the core (Gateway+Resync) applies it a batch per turn.

import TandemConfig
import TandemLinux

extension Daemon {
    /// Subscribes to route notifications first, then starts the dump of what the table holds (on the tandem-dump
    /// thread), so nothing is missed between; the core learns the dump (``Gateway/learnInitialRoutes(from:)``).
    func startLearning() throws(DaemonError) -> StartDump? {
        guard let learning = config.learning else { return nil }
        do {
            monitor = try RouteMonitor()
            // Only what is learned reaches the socket: Tandem's own million routes never fill its queue.
            try monitor!.filter(table: learning.table, protocols: learning.protocols)
            return try StartDump(learning)
        } catch {
            throw DaemonError("starting to learn routes: \(error)")
        }
    }

    /// Puts the notification socket in the loop, and gives the core a way to dump the table off this thread.
    func watchRouteNotifications(in loop: EventLoop) throws(SystemError) {
        guard let monitor else { return }
        try loop.register(FileDescriptor(rawValue: monitor.descriptor)) { [unowned self] _ in
            gateway.readNotifications(from: monitor)
        }
        gateway.dumpWatchedTable = { [unowned self, unowned loop] learning in startTableDump(learning, in: loop) }
    }

    /// Dumps the watched table on the tandem-dump thread; the result goes to the core on this thread.
    func startTableDump(_ learning: GatewayConfig.Learning, in loop: EventLoop) {
        do {
            tableDump = try BackgroundJob(
                name: "tandem-dump", in: loop,
                work: {
                    // Reading routes needs no privilege, so the thread keeps none.
                    try? ProcessCapabilities.dropAllOfCallingThread()
                    return Result { () throws(SystemError) in
                        let kernel = LinuxKernel(netlink: try RouteNetlink())
                        return WatchedTableDump(routes: try WatchedTableDump.routes(of: learning, from: kernel))
                    }
                },
                done: { [unowned self] result in
                    tableDump = nil
                    gateway.dumpFinished(result)
                })
        } catch {
            gateway.dumpFinished(.failure(error))
        }
    }
}
