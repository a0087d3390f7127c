import ArgumentParser
import TandemControl
import TandemDatasets
import TandemLPM
import TandemPacket

/// `tandem lookup`: asks the running gateway where a flow goes, or (with --table) loads a routing table into the
/// LPM tables and looks addresses up.
struct Lookup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Where a running gateway sends a flow; or, with --table, longest-prefix match in a table file.",
        discussion: """
            Without --table: asks the control socket of 'tandem run' which policy route or destination route \
            matches each ADDRESS, its group, the connection and the tunnel a packet of the flow (--from, --proto, \
            --sport, --dport, hashed with the gateway's ecmp settings) takes. See docs/run.md.

            With --table: loads one CIDR prefix per line (IPv4 and IPv6, gzip or plain; 'shared' for the \
            shared full Internet table, or a synthetic table with the same prefix-length mix when it cannot be \
            found), reports the load time, the memory the tables use and the prefixes per length, \
            then prints the matching prefix for each ADDRESS. A prefix's value is its line number \
            among the prefixes of its family.
            """)

    @Option(name: .long, help: "A table file, or 'shared' for ../shared/data/full-table-2024.txt.gz; without it, ask the running gateway.")
    var table: String?

    @Option(name: .long, help: "The flow's source address (default 0.0.0.0 or ::).")
    var from: String?

    @Option(name: .long, help: "The flow's protocol: tcp, udp, icmp, icmpv6 or a number.")
    var proto: String?

    @Option(name: .long, help: "The flow's source port.")
    var sport: UInt16 = 0

    @Option(name: .long, help: "The flow's destination port.")
    var dport: UInt16 = 0

    @OptionGroup var client: ControlClientOptions

    @Flag(name: .long, help: "Skip the prefixes-per-length report.")
    var quiet = false

    @Argument(help: "IPv4 or IPv6 addresses to look up.")
    var addresses: [String] = []

    func validate() throws {
        if let proto, ControlRequest.protocolNumber(proto) == nil {
            throw ValidationError("--proto: unknown protocol '\(proto)': use tcp, udp, icmp, icmpv6 or 0...255")
        }
        if table == nil && addresses.isEmpty { throw ValidationError("give an address to look up") }
        for text in addresses {
            if (try? IPv4Address(text)) == nil && (try? IPv6Address(text)) == nil {
                throw ValidationError("'\(text)' is neither an IPv4 nor an IPv6 address")
            }
        }
    }

    func run() throws {
        guard let table else {
            for address in addresses {
                let flow = ControlRequest.Flow(
                    destination: address, source: from, protocol: proto.flatMap(ControlRequest.protocolNumber) ?? 0,
                    sourcePort: sport, destinationPort: dport)
                try client.ask(ControlRequest(.lookup(flow), json: client.json))
            }
            return
        }
        try lookUpInTable(table == "shared" ? nil : table)
    }

    private func lookUpInTable(_ table: String?) throws {
        let rssBefore = residentBytes() ?? 0
        let start = monotonicSeconds()
        let data = try RouteTableData.loadOrSynthesize(path: table)
        let parsed = monotonicSeconds()
        let ipv4 = IPv4Table()
        let ipv6 = IPv6Table()
        ipv4.load(data.ipv4.enumerated().map { ($0.element, UInt32($0.offset + 1)) })
        ipv6.load(data.ipv6.enumerated().map { ($0.element, UInt32($0.offset + 1)) })
        let built = monotonicSeconds()
        let rssAfter = residentBytes() ?? 0

        if case .synthetic = data.origin {
            print("note: using a synthetic table: \(data.origin)")
        }
        print("table: \(data.origin)")
        print("prefixes: \(ipv4.count) IPv4, \(ipv6.count) IPv6 (\(data.ipv4.count + data.ipv6.count) lines"
            + (data.normalized > 0 ? ", \(data.normalized) with host bits set, normalised" : "") + ")")
        print("load: \(milliseconds(built - start)) (read and parse \(milliseconds(parsed - start)), build tables \(milliseconds(built - parsed)))")
        let m4 = ipv4.memoryUsage
        let m6 = ipv6.memoryUsage
        print("memory, as the tables count it: \(mebibytes(m4.totalBytes + m6.totalBytes)) MiB "
            + "(IPv4 \(mebibytes(m4.totalBytes)) MiB: lookup side \(mebibytes(m4.lookupBytes)), control \(mebibytes(m4.writerBytes)); "
            + "IPv6 \(mebibytes(m6.totalBytes)) MiB: lookup side \(mebibytes(m6.lookupBytes)), control \(mebibytes(m6.writerBytes)))")
        if rssAfter > 0 {
            print("process resident memory grew by \(mebibytes(rssAfter - rssBefore)) MiB (includes the parsed prefix lists)")
        }
        if !quiet {
            print("prefixes per length:")
            printHistogram("IPv4", ipv4.countByLength)
            printHistogram("IPv6", ipv6.countByLength)
        }
        for text in addresses {
            if let address = try? IPv4Address(text) {
                report(text, ipv4.longestMatch(address), fast: ipv4.lookup(address))
            } else if let address = try? IPv6Address(text) {
                report(text, ipv6.longestMatch(address), fast: ipv6.lookup(address))
            }
        }
    }

    private func printHistogram(_ family: String, _ counts: [Int]) {
        let rows = counts.enumerated().filter { $0.element > 0 }.map { "/\($0.offset) \($0.element)" }
        var line = "  \(family):"
        for row in rows {
            if line.count + row.count > 100 {
                print(line)
                line = "       "
            }
            line += "  " + row
        }
        print(line)
    }

    private func report<P: IPPrefix>(_ text: String, _ match: (prefix: P, value: UInt32)?, fast: UInt32?) {
        // The control records and the lock-free lookup must agree; say so loudly if not.
        precondition(match?.value == fast, "lookup of \(text): control records say \(String(describing: match?.value)), trie says \(String(describing: fast))")
        if let match {
            print("\(text) -> \(match.prefix) (prefix #\(match.value) of the table)")
        } else {
            print("\(text) -> no route")
        }
    }
}
