import ArgumentParser
import TandemControl

/// `tandem drain TUNNEL`: moves a connection's traffic off one of its tunnels before maintenance, without a failure.
struct Drain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a running gateway's traffic off a tunnel (down for selection, its probes go on).",
        discussion: """
            Asks the control socket of 'tandem run' (root only). The tunnel's connection moves to its other tunnel \
            at once, as in a failover but without one; 'show tunnels' says "drained". Refused when that leaves the \
            connection without a tunnel (a single-tunnel connection, or the other tunnel down or drained), unless \
            --force. A drain lasts across a reload, not across a restart ('drained: true' in the file does). \
            Undo it with 'tandem undrain'. See docs/run.md, "Draining a tunnel".
            """)

    @Argument(help: "The tunnel's name.")
    var tunnel: String

    @Flag(name: .long, help: "Drain even when the connection is left without a tunnel.")
    var force = false

    @OptionGroup var client: ControlClientOptions

    func run() throws { try client.ask(ControlRequest(.drain(tunnel: tunnel, force: force), json: client.json)) }
}

/// `tandem undrain TUNNEL`: makes a drained tunnel selectable again.
struct Undrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a drained tunnel of a running gateway selectable again.",
        discussion: """
            Asks the control socket of 'tandem run' (root only). If the tunnel is up, it is selectable at once; an \
            active tunnel takes its connection's traffic back at once, without the preempt delay, even with \
            'preempt: false' (an operator asked). A tunnel that 'drained: true' in the file drains is drained again \
            by the next reload. See docs/run.md, "Draining a tunnel".
            """)

    @Argument(help: "The tunnel's name.")
    var tunnel: String

    @OptionGroup var client: ControlClientOptions

    func run() throws { try client.ask(ControlRequest(.undrain(tunnel: tunnel), json: client.json)) }
}
