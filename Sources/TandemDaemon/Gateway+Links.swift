// Link state is a failure signal: a tunnel whose interface loses its carrier, goes admin down or is deleted is taken
// down when the kernel says so, without waiting for probes to time out; its connection fails over at once. When the
// link comes back, the tunnel's probes must bring it up as usual (up-count, then the preempt delay); a tunnel
// without a health check is up again with its link. The daemon feeds the notifications (LinkMonitor); at start
// and after a reload, or after lost notifications, every link is read again.

import TandemConfig
import TandemLinux
import TandemRouting

extension Gateway {
    /// Reads the state of every tunnel's interface and applies it: a tunnel whose interface is down (or missing)
    /// starts down. At start, after a reload, and when notifications were lost (a link that came back meanwhile
    /// gets its table and next hops back, as from its notification).
    func readLinkStates() {
        guard let up = interfacesUp() else { return }
        var cameBack = false
        for (index, tunnel) in config.tunnels.enumerated() {
            guard let interface = tunnel.interface else { continue }
            if setLink(up: up.contains(interface), of: TunnelID(index)) { cameBack = true }
        }
        if cameBack { tunnelInterfacesChanged() }
    }

    /// The same for a state a reload builds aside: its events are not the running state's, only logged.
    func applyLinkStates(to next: inout GatewayState) {
        guard let up = interfacesUp() else { return }
        for (index, tunnel) in next.config.tunnels.enumerated() {
            guard let interface = tunnel.interface, !up.contains(interface) else { continue }
            _ = try? next.controller.setLink(
                up: false, for: TunnelID(index), at: MonotonicInstant(nanoseconds: now), router: next.router)
            log.info("tunnel \(tunnel.name) is down: its interface \(interface) is down")
        }
    }

    /// The names of the devices that can carry traffic now; nil (logged) when the kernel cannot say.
    private func interfacesUp() -> Set<String>? {
        do {
            return Set(try kernel.linkStates().filter(\.up).map(\.name))
        } catch {
            log.error("reading the tunnels' link states: \(error)")
            return nil
        }
    }

    /// Link notifications: each tunnel on an interface named in them takes its state (the last one wins). A link
    /// back up gets its tunnel table and its next hops' neighbour entries back at once (the kernel drops a device's
    /// routes when it goes admin down, and its neighbour entries on any down), so that its probes, which must bring
    /// the tunnel up, have a way out.
    ///
    /// A down and an up for the same link in one read (a flap while the control thread was busy) are taken one
    /// after the other, as if read one by one: the tunnel fails over and counts the flap, and gets its table and
    /// entries back, which the kernel dropped all the same. Whether Tandem was busy must not change the outcome.
    func handle(_ links: [LinkState]) {
        guard !links.isEmpty else { return }
        var latest: [String: Bool] = [:]
        var wentDown: Set<String> = []
        for link in links {
            latest[link.name] = link.up
            if !link.up { wentDown.insert(link.name) }
        }
        var cameBack = false
        for (index, tunnel) in config.tunnels.enumerated() {
            guard let interface = tunnel.interface, let up = latest[interface] else { continue }
            if up && wentDown.contains(interface) { setLink(up: false, of: TunnelID(index)) }
            if setLink(up: up, of: TunnelID(index)) { cameBack = true }
        }
        if cameBack { tunnelInterfacesChanged() }
    }

    /// Gives the controller a tunnel's link state; its events are logged (and, in kernel mode, put in the nexthop
    /// groups) at once. Returns whether the link came back (it was down and is up): the caller restores what the
    /// kernel dropped with it (``tunnelInterfacesChanged()``), once for all the links it applies.
    @discardableResult
    func setLink(up: Bool, of tunnel: TunnelID) -> Bool {
        let cameBack = up && controller.isLinkDown(tunnel)
        do {
            apply(try state.controller.setLink(up: up, for: tunnel, at: MonotonicInstant(nanoseconds: now), router: router))
        } catch {
            log.error("link state of tunnel \(config.tunnels[tunnel.index].name): \(error)")
        }
        return cameBack
    }
}
