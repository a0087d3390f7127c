// The control socket of the running gateway (`tandem show`, `tandem lookup`): where it lives, and what it answers
// with. The serving itself is ControlServer's; serve() registers it in the control thread's event loop.

import TandemConfig
import TandemControl
import TandemLinux
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    /// Opens the control socket (mode 0600; its directory /run/tandem is made with mode 0700 if missing).
    func startControl() throws(DaemonError) {
        let path = controlSocketPath ?? ControlSocket.defaultPath(gateway: config.gateway.name)
        do {
            if controlSocketPath == nil { try UnixListener.makeDirectory(ControlSocket.directory, mode: 0o700) }
            control = ControlServer(listener: try UnixListener(path: path, mode: 0o600), log: log) { [unowned self] in
                gateway.answerChange($0) ?? view.answer($0)
            }
            log.info("control socket: \(path)")
        } catch {
            throw DaemonError("\(error); choose another path with --control-socket")
        }
    }

    /// Registers the control socket in the control thread's event loop.
    func registerControl(in loop: EventLoop) throws(SystemError) { try control?.register(in: loop) }

    /// The gateway as `show` sees it now.
    var view: GatewayView {
        gateway.view(probes: { self.probeFigures(ofTunnel: $0) }, counters: forwarder?.summary)
    }

    /// The probe figures of a tunnel (by index): zeros for a tunnel without a health check.
    func probeFigures(ofTunnel index: Int) -> ProbeStatistics {
        probes?.statistics(of: TunnelID(index)) ?? ProbeStatistics()
    }
}
