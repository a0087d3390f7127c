// Link state's effects: the link-notification socket in the event loop. It is opened before the core reads every
// link at start, so a carrier lost in between is not missed; each notification goes to the core at once (a tunnel
// whose interface went down fails over in the same turn).

import TandemLinux

extension Daemon {
    /// Subscribes to link notifications (the core reads every link's state at start, after this).
    func startLinkMonitor() throws(DaemonError) {
        guard config.tunnels.contains(where: { $0.interface != nil }) else { return }
        do {
            links = try LinkMonitor()
        } catch {
            throw DaemonError("watching the tunnels' links: \(error)")
        }
    }

    /// Puts the link-notification socket in the loop. Lost notifications (ENOBUFS): every link is read again.
    func watchLinks(in loop: EventLoop) throws(SystemError) {
        guard let links else { return }
        try loop.register(FileDescriptor(rawValue: links.descriptor)) { [unowned self] _ in
            do {
                gateway.handle(try links.read())
            } catch {
                log.warning("\(error); reading every tunnel's link state again")
                gateway.readLinkStates()
            }
        }
    }
}
