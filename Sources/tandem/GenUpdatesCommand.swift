import ArgumentParser
import TandemDatasets

/// `tandem gen-updates`: a BGP update trace as text, for what replays one into a routing daemon (tools/soak).
struct GenUpdates: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen-updates",
        abstract: "Write a BGP update trace: the shared LINX trace, or one generated over a routing table.",
        discussion: """
            Writes `<unix time> <a|w> <prefix> <next hop>` lines, the format of \
            ../shared/data/linx-updates-2014-v4.txt.gz, to standard output: that trace when it is found, else \
            (or with --synthetic) --count updates generated over the IPv4 prefixes of the shared full table or \
            of the synthetic table: withdrawals and re-announcements, one in ten a new /24, ten a second, next hops \
            198.18.255.1 to .8. Standard error says which trace it is.
            """)

    @Option(name: .long, help: "Updates in a generated trace.")
    var count = 23_446

    @Option(name: .long, help: "Seed of a generated trace.")
    var seed: UInt64 = 2014

    @Flag(name: .long, help: "Generate the trace even when the shared one is found.")
    var synthetic = false

    func run() throws {
        let trace: UpdateTrace
        if !synthetic, let path = SharedData.path(of: SharedData.updateTrace) {
            trace = try UpdateTrace.load(path: path)
        } else {
            let table = try RouteTableData.loadOrSynthesize()
            let why =
                synthetic ? "--synthetic" : "\(SharedData.updateTrace) not found in \(SharedData.searchDescription)"
            trace = UpdateTrace.synthesize(
                over: table.ipv4, count: count, seed: seed, reason: "\(why); over \(table.origin)")
        }
        printError("update trace: \(trace.updates.count) updates, \(trace.origin)")
        for update in trace.updates { print(update.line) }
    }
}
