import TandemPacket

/// A routing table as a list of prefixes, IPv4 and IPv6, from a file or generated.
public struct RouteTableData: Sendable {
    /// Where the prefixes came from, to say so in every report.
    public enum Origin: Sendable, CustomStringConvertible {
        case file(path: String)
        case synthetic(seed: UInt64, reason: String)
        public var description: String {
            switch self {
            case .file(let path): return path
            case .synthetic(let seed, let reason): return "synthetic table (seed \(seed)): \(reason)"
            }
        }
    }

    public var ipv4: [IPv4Prefix]
    public var ipv6: [IPv6Prefix]
    /// Prefixes written with host bits set (e.g. `10.1.2.3/8`), loaded as their normal form.
    public var normalized: Int
    /// Blank and `#` comment lines skipped.
    public var skippedLines: Int
    public var origin: Origin

    public init(ipv4: [IPv4Prefix], ipv6: [IPv6Prefix], normalized: Int = 0, skippedLines: Int = 0, origin: Origin) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.normalized = normalized
        self.skippedLines = skippedLines
        self.origin = origin
    }

    /// Reads one CIDR prefix per line (IPv4 and IPv6 mixed; LF or CRLF; gzip or plain).
    /// Blank lines and lines starting with `#` are skipped; anything else that is not a prefix
    /// is an error naming the file and line.
    public static func load(path: String) throws -> RouteTableData {
        var ipv4: [IPv4Prefix] = []
        var ipv6: [IPv6Prefix] = []
        ipv4.reserveCapacity(1 << 20)
        ipv6.reserveCapacity(1 << 18)
        var normalized = 0
        var skipped = 0
        try forEachLine(ofFile: path) { line, number in
            let text = trimmed(line)
            if text.isEmpty || text[0] == UInt8(ascii: "#") {
                skipped += 1
                return
            }
            switch parsePrefix(text) {
            case .v4(let address, let length, let hostBits):
                ipv4.append(IPv4Prefix(normalizing: address, length: length))
                if hostBits { normalized += 1 }
            case .v6(let address, let length, let hostBits):
                ipv6.append(IPv6Prefix(normalizing: address, length: length))
                if hostBits { normalized += 1 }
            case .invalid(let reason):
                throw DatasetError(
                    path: path, line: number,
                    message: "'\(String(decoding: text, as: UTF8.self))' is not a prefix: \(reason); "
                        + "expected one CIDR prefix per line such as 198.18.0.0/15 or 2001:db8::/32")
            }
        }
        return RouteTableData(ipv4: ipv4, ipv6: ipv6, normalized: normalized, skippedLines: skipped, origin: .file(path: path))
    }

    /// The table at `path` if given, else the shared full table if it can be found, else a
    /// synthetic table with the same prefix-length mix (the origin says which, and why).
    public static func loadOrSynthesize(path: String? = nil, seed: UInt64 = 2024) throws -> RouteTableData {
        if let path { return try load(path: path) }
        if let shared = SharedData.path(of: SharedData.fullTable) { return try load(path: shared) }
        return SyntheticTable.generate(
            seed: seed, reason: "\(SharedData.fullTable) not found in \(SharedData.searchDescription)")
    }
}

/// A parsed `address/length` line.
enum ParsedLine {
    case v4(IPv4Address, Int, hostBits: Bool)
    case v6(IPv6Address, Int, hostBits: Bool)
    case invalid(String)
}

/// The line without leading and trailing spaces or tabs.
func trimmed(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    var start = 0
    var end = line.count
    while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
    while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
    return UnsafeRawBufferPointer(rebasing: line[start..<end])
}

/// Parses `address/length` from raw bytes without allocating.
func parsePrefix(_ text: UnsafeRawBufferPointer) -> ParsedLine {
    guard let slash = text.firstIndex(of: UInt8(ascii: "/")) else { return .invalid("no '/length'") }
    let addressBytes = UnsafeRawBufferPointer(rebasing: text[..<slash])
    let lengthBytes = text[(slash + 1)...]
    guard !lengthBytes.isEmpty, lengthBytes.count <= 3 else { return .invalid("bad length") }
    var length = 0
    for byte in lengthBytes {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return .invalid("bad length") }
        length = length * 10 + Int(byte - UInt8(ascii: "0"))
    }
    if addressBytes.contains(UInt8(ascii: ":")) {
        guard let address = IPv6Address.parse(utf8: addressBytes) else { return .invalid("bad IPv6 address") }
        guard length <= 128 else { return .invalid("IPv6 length \(length) is larger than 128") }
        let masked = address.rawValue & IPv6Prefix.mask(length: length)
        return .v6(address, length, hostBits: masked != address.rawValue)
    }
    guard let address = IPv4Address.parse(utf8: addressBytes) else { return .invalid("bad IPv4 address") }
    guard length <= 32 else { return .invalid("IPv4 length \(length) is larger than 32") }
    let masked = address.rawValue & IPv4Prefix.mask(length: length)
    return .v4(address, length, hostBits: masked != address.rawValue)
}
