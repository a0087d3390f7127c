// What a client asks the control socket of `tandem run`: one line of words, answered by text or JSON, then the
// daemon closes the connection. `tandem show` and `tandem lookup` write these lines; so can `socat`:
//
//   show routes [PREFIX] [limit N] [json]
//   show groups|connections|tunnels|counters|status [json]
//   lookup ADDRESS [from SOURCE] [proto P] [sport N] [dport N] [json]
//   drain TUNNEL [force] [json]
//   undrain TUNNEL [json]
//
// An answer that starts with "error: " is one line saying what was wrong with the request.

import TandemPacket

/// A request to the control socket.
public struct ControlRequest: Hashable, Sendable {
    /// What to show or look up.
    public enum Query: Hashable, Sendable {
        /// Every route of the RIB (at most `limit` prefixes), or those of one prefix (or the RIB prefix covering it).
        case routes(prefix: RoutePrefix?, limit: Int?)
        case groups
        case connections
        case tunnels
        case counters
        /// Ready or not, what the kernel refused and is retried, the last refusal, the next retry.
        case status
        /// Where a packet of this flow goes.
        case lookup(Flow)
        /// Moves traffic off a tunnel without a failure: down for selection, its probes go on. Refused when that
        /// leaves its connection without a tunnel, unless `force`.
        case drain(tunnel: String, force: Bool)
        /// Makes a drained tunnel selectable again.
        case undrain(tunnel: String)
    }

    /// The fields of a packet that decide its path.
    public struct Flow: Hashable, Sendable {
        public var destination: String
        public var source: String?
        public var `protocol`: UInt8
        public var sourcePort: UInt16
        public var destinationPort: UInt16

        public init(
            destination: String, source: String? = nil, protocol: UInt8 = 0, sourcePort: UInt16 = 0,
            destinationPort: UInt16 = 0
        ) {
            self.destination = destination
            self.source = source
            self.protocol = `protocol`
            self.sourcePort = sourcePort
            self.destinationPort = destinationPort
        }
    }

    public var query: Query
    /// Answer in JSON instead of text.
    public var json: Bool

    public init(_ query: Query, json: Bool = false) {
        self.query = query
        self.json = json
    }

    /// The longest request line the daemon reads (without the newline).
    public static let maximumLineLength = 4096

    /// The request as one line, without the newline.
    public var line: String {
        var words: [String]
        switch query {
        case .routes(let prefix, let limit):
            words = ["show", "routes"]
            if let prefix { words.append(prefix.description) }
            if let limit { words += ["limit", String(limit)] }
        case .groups: words = ["show", "groups"]
        case .connections: words = ["show", "connections"]
        case .tunnels: words = ["show", "tunnels"]
        case .counters: words = ["show", "counters"]
        case .status: words = ["show", "status"]
        case .lookup(let flow):
            words = ["lookup", flow.destination]
            if let source = flow.source { words += ["from", source] }
            if flow.protocol != 0 { words += ["proto", String(flow.protocol)] }
            if flow.sourcePort != 0 { words += ["sport", String(flow.sourcePort)] }
            if flow.destinationPort != 0 { words += ["dport", String(flow.destinationPort)] }
        case .drain(let tunnel, let force):
            words = ["drain", tunnel]
            if force { words.append("force") }
        case .undrain(let tunnel): words = ["undrain", tunnel]
        }
        if json { words.append("json") }
        return words.joined(separator: " ")
    }

    /// Reads a request line.
    ///
    /// - Throws: ``ControlRequestError`` naming the word that is wrong.
    public init(line: some StringProtocol) throws(ControlRequestError) {
        var words = String(line).split(whereSeparator: { (character: Character) in
            character == " " || character == "\t" || character == "\r"
        }).map(String.init)
        json = false
        if words.last == "json" {
            json = true
            words.removeLast()
        }
        guard let verb = words.first else { throw ControlRequestError("empty request") }
        switch (verb, words.count > 1 ? words[1] : "") {
        case ("show", "routes"):
            var prefix: RoutePrefix?
            var limit: Int?
            var index = 2
            while index < words.count {
                if words[index] == "limit" {
                    guard index + 1 < words.count, let value = Int(words[index + 1]), value >= 0 else {
                        throw ControlRequestError("limit needs a number of prefixes")
                    }
                    limit = value
                    index += 2
                } else {
                    prefix = try Self.prefix(words[index])
                    index += 1
                }
            }
            query = .routes(prefix: prefix, limit: limit)
        case ("show", "groups"), ("show", "connections"), ("show", "tunnels"), ("show", "counters"),
            ("show", "status"):
            guard words.count == 2 else { throw ControlRequestError("'show \(words[1])' takes no argument") }
            query = [
                "groups": Query.groups, "connections": .connections, "tunnels": .tunnels, "counters": .counters,
                "status": .status,
            ][words[1]]!
        case ("show", let what):
            throw ControlRequestError(
                "unknown 'show \(what)': use routes, groups, connections, tunnels, counters or status")
        case ("lookup", _):
            guard words.count >= 2 else { throw ControlRequestError("lookup needs an address") }
            var flow = Flow(destination: words[1])
            var index = 2
            while index < words.count {
                guard index + 1 < words.count else { throw ControlRequestError("'\(words[index])' needs a value") }
                let value = words[index + 1]
                switch words[index] {
                case "from": flow.source = value
                case "proto":
                    guard let number = Self.protocolNumber(value) else {
                        throw ControlRequestError("unknown protocol '\(value)': use tcp, udp, icmp, icmpv6 or 0...255")
                    }
                    flow.protocol = number
                case "sport", "dport":
                    guard let port = UInt16(value) else { throw ControlRequestError("bad port '\(value)'") }
                    if words[index] == "sport" { flow.sourcePort = port } else { flow.destinationPort = port }
                default: throw ControlRequestError("unknown lookup option '\(words[index])'")
                }
                index += 2
            }
            query = .lookup(flow)
        case ("drain", _):
            guard words.count >= 2 else { throw ControlRequestError("drain needs a tunnel's name") }
            guard words.count == 2 || (words.count == 3 && words[2] == "force") else {
                throw ControlRequestError("unknown drain option '\(words[2...].joined(separator: " "))': only 'force'")
            }
            query = .drain(tunnel: words[1], force: words.count == 3)
        case ("undrain", _):
            guard words.count == 2 else {
                throw ControlRequestError(words.count < 2 ? "undrain needs a tunnel's name" : "undrain takes one tunnel")
            }
            query = .undrain(tunnel: words[1])
        default:
            throw ControlRequestError("unknown request '\(verb)': use show, lookup, drain or undrain")
        }
    }

    /// A prefix, or an address taken as a host prefix (`/32`, `/128`).
    ///
    /// - Throws: ``ControlRequestError`` saying what is wrong with the text.
    public static func prefix(_ text: String) throws(ControlRequestError) -> RoutePrefix {
        if text.contains("/") {
            do { return try RoutePrefix(text) } catch { throw ControlRequestError("\(error)") }
        }
        if let address = try? IPv4Address(text) { return .v4(IPv4Prefix(normalizing: address, length: 32)) }
        if let address = try? IPv6Address(text) { return .v6(IPv6Prefix(normalizing: address, length: 128)) }
        throw ControlRequestError("'\(text)' is neither a prefix nor an address")
    }

    /// A protocol name (tcp, udp, icmp, icmpv6, ...) or number.
    public static func protocolNumber(_ text: String) -> UInt8? {
        if let number = UInt8(text) { return number }
        let names: [String: UInt8] = ["icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "icmpv6": 58, "sctp": 132]
        return names[text.lowercased()]
    }
}

/// A request the daemon cannot read.
public struct ControlRequestError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
