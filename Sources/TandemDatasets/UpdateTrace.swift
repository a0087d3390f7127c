import TandemPacket

/// One BGP change from an update trace: `<unix time> <a|w> <prefix> <next hop>`.
public struct RouteUpdate: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case announce, withdraw }
    public var time: UInt32
    public var kind: Kind
    public var prefix: IPv4Prefix
    public var nextHop: IPv4Address
    public init(time: UInt32, kind: Kind, prefix: IPv4Prefix, nextHop: IPv4Address) {
        self.time = time
        self.kind = kind
        self.prefix = prefix
        self.nextHop = nextHop
    }
}

/// A sequence of route updates, from a file such as `linx-updates-2014-v4.txt.gz` or generated.
public struct UpdateTrace: Sendable {
    public var updates: [RouteUpdate]
    public var origin: RouteTableData.Origin

    /// Reads `<unix time> <a|w> <prefix> <next hop>` lines; errors name the file and line.
    public static func load(path: String) throws -> UpdateTrace {
        var updates: [RouteUpdate] = []
        try forEachLine(ofFile: path) { line, number in
            let text = trimmed(line)
            if text.isEmpty || text[0] == UInt8(ascii: "#") { return }
            let fields = text.split(separator: 0x20, omittingEmptySubsequences: true)
            func fail(_ why: String) -> DatasetError {
                DatasetError(
                    path: path, line: number,
                    message: "\(why) in '\(String(decoding: text, as: UTF8.self))'; expected '<unix time> <a|w> <prefix> <next hop>'")
            }
            guard fields.count == 4 else { throw fail("\(fields.count) fields instead of 4") }
            guard let time = UInt32(String(decoding: fields[0], as: UTF8.self)) else { throw fail("bad time") }
            let kind: RouteUpdate.Kind
            switch String(decoding: fields[1], as: UTF8.self) {
            case "a": kind = .announce
            case "w": kind = .withdraw
            default: throw fail("kind is neither 'a' nor 'w'")
            }
            guard case .v4(let address, let length, _) = parsePrefix(UnsafeRawBufferPointer(rebasing: fields[2])) else {
                throw fail("bad IPv4 prefix")
            }
            guard let nextHop = IPv4Address.parse(utf8: UnsafeRawBufferPointer(rebasing: fields[3])) else {
                throw fail("bad next hop")
            }
            updates.append(
                RouteUpdate(time: time, kind: kind, prefix: IPv4Prefix(normalizing: address, length: length), nextHop: nextHop))
        }
        return UpdateTrace(updates: updates, origin: .file(path: path))
    }

    /// The shared LINX trace if it can be found, else `count` generated updates over `table`
    /// (withdrawals and re-announcements of its prefixes, a few new ones), saying which.
    public static func loadOrSynthesize(over table: [IPv4Prefix], count: Int = 23_446, seed: UInt64 = 2014) throws
        -> UpdateTrace
    {
        if let path = SharedData.path(of: SharedData.updateTrace) { return try load(path: path) }
        return synthesize(
            over: table, count: count, seed: seed,
            reason: "\(SharedData.updateTrace) not found in \(SharedData.searchDescription)")
    }

    /// `count` generated updates over `table`, ten a second: withdrawals and re-announcements of its prefixes
    /// (picked at random), and one in ten a new /24 at random, next hops 198.18.255.1 to .8; `reason` says why
    /// the trace is generated (it goes into `origin`).
    public static func synthesize(over table: [IPv4Prefix], count: Int = 23_446, seed: UInt64 = 2014, reason: String)
        -> UpdateTrace
    {
        var random = SplitMix64(seed: seed)
        var updates: [RouteUpdate] = []
        let nextHops = (1...8).map { IPv4Address(198, 18, 255, UInt8($0)) }
        for index in 0..<count {
            let time = UInt32(1_418_774_413 + index / 10)
            let pick = Int(random.next() % UInt64(max(table.count, 1)))
            if table.isEmpty || random.next() % 10 == 0 {
                let address = IPv4Address(rawValue: UInt32(truncatingIfNeeded: random.next()))
                let prefix = IPv4Prefix(normalizing: address, length: 24)
                updates.append(RouteUpdate(time: time, kind: .announce, prefix: prefix, nextHop: nextHops[index % 8]))
            } else {
                let kind: RouteUpdate.Kind = random.next() % 2 == 0 ? .withdraw : .announce
                updates.append(
                    RouteUpdate(
                        time: time, kind: kind, prefix: table[pick],
                        nextHop: kind == .withdraw ? IPv4Address(rawValue: 0) : nextHops[index % 8]))
            }
        }
        return UpdateTrace(updates: updates, origin: .synthetic(seed: seed, reason: reason))
    }
}

extension RouteUpdate {
    /// The update as a line of a trace file, `<unix time> <a|w> <prefix> <next hop>`: what `UpdateTrace.load` reads.
    public var line: String { "\(time) \(kind == .announce ? "a" : "w") \(prefix) \(nextHop)" }
}
