// Shared inputs for the LPM benchmarks: the full table, the update trace and address samples.
//
// BenchmarkTool runs every benchmark in a process of its own, so each global below is computed
// lazily (Swift globals are initialised once, on first use) and only in `setup` hooks: listing
// the benchmarks stays instant, and each benchmark pays only for the inputs it uses.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TandemDatasets
import TandemLPM
import TandemPacket

/// How many addresses one lookup benchmark iteration looks up (= `scalingFactor: .mega`).
let lookupSampleCount = 1_000_000
/// Fixed seeds, so that every run looks up the same addresses.
let hitSeed: UInt64 = 0x7A4D_0001
let uniformSeed: UInt64 = 0x7A4D_0002
/// Batch size for the batch lookup API.
let batchSize = 256

/// The full table (the shared file if found, else the synthetic one), read once per process.
let routeTable: RouteTableData = {
    let start = ContinuousClock.now
    let data: RouteTableData
    do {
        data = try RouteTableData.loadOrSynthesize()
    } catch {
        fatalError("LPMBenchmarks: cannot read the route table: \(error)")
    }
    reportOnce(
        "table-origin",
        "LPMBenchmarks: route table \(data.origin): \(data.ipv4.count) IPv4 + \(data.ipv6.count) IPv6 prefixes"
            + " (read in \(start.duration(to: .now)))")
    return data
}()

/// A next-hop-group id per route, as a FIB would carry.
func groupID(_ index: Int) -> UInt32 { UInt32(index % 1024) }

let ipv4Routes: [(prefix: IPv4Prefix, value: UInt32)] = routeTable.ipv4.enumerated().map {
    (prefix: $0.element, value: groupID($0.offset))
}
let ipv6Routes: [(prefix: IPv6Prefix, value: UInt32)] = routeTable.ipv6.enumerated().map {
    (prefix: $0.element, value: groupID($0.offset))
}

/// A full IPv4 table with the given geometry.
func fullIPv4Table(directBits: Int = 18) -> IPv4Table {
    let table = IPv4Table(directBits: directBits)
    table.load(ipv4Routes)
    return table
}

/// A full IPv6 table with the given geometry.
func fullIPv6Table(directBits: Int = 20) -> IPv6Table {
    let table = IPv6Table(directBits: directBits)
    table.load(ipv6Routes)
    return table
}

/// Which addresses a lookup benchmark looks up.
enum AddressMix: String {
    /// Random addresses inside randomly chosen announced prefixes (every lookup hits).
    case hit
    /// Uniformly random addresses (IPv4: the whole space; IPv6: 2000::/3), hits and misses as they fall.
    case uniform
}

func ipv4Addresses(_ mix: AddressMix) -> [IPv4Address] {
    switch mix {
    case .hit: return AddressSamples.inside(routeTable.ipv4, count: lookupSampleCount, seed: hitSeed)
    case .uniform: return AddressSamples.uniformIPv4(count: lookupSampleCount, seed: uniformSeed)
    }
}

func ipv6Addresses(_ mix: AddressMix) -> [IPv6Address] {
    switch mix {
    case .hit: return AddressSamples.inside(routeTable.ipv6, count: lookupSampleCount, seed: hitSeed)
    case .uniform: return AddressSamples.uniformIPv6GlobalUnicast(count: lookupSampleCount, seed: uniformSeed)
    }
}

/// Prints `message` to standard error once per benchmark run, not once per benchmark process.
///
/// Every benchmark runs in a child process of BenchmarkTool; the children share the parent, so a
/// marker file named after it (pid and start time) tells the first child from the others.
/// Markers of runs that have ended are removed.
func reportOnce(_ key: String, _ message: String) {
    let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    let parent = getppid()
    removeStaleMarkers(in: directory, keeping: parent)
    let marker = "\(directory)/\(markerPrefix)\(parent)-\(startTime(of: parent))-\(key)"
    let fd = open(marker, O_CREAT | O_EXCL | O_WRONLY, 0o600)
    if fd >= 0 {
        close(fd)
        printError(message)
    } else if errno != EEXIST {
        printError(message)
    }
}

private let markerPrefix = "tandem-lpm-benchmarks-"

/// The start time of process `pid` (field 22 of /proc/pid/stat), to tell a reused pid apart.
private func startTime(of pid: pid_t) -> String {
    let fd = open("/proc/\(pid)/stat", O_RDONLY)
    guard fd >= 0 else { return "0" }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 1024)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return "0" }
    let text = String(decoding: buffer[0..<count], as: UTF8.self)
    // The command name (field 2) may hold spaces; fields after it follow the last ')'.
    guard let close = text.lastIndex(of: ")") else { return "0" }
    let fields = text[text.index(after: close)...].split(separator: " ")
    return fields.count > 19 ? String(fields[19]) : "0"
}

/// Removes the markers of parents that no longer run.
private func removeStaleMarkers(in directory: String, keeping parent: pid_t) {
    guard let handle = opendir(directory) else { return }
    defer { closedir(handle) }
    while let entry = readdir(handle) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard name.hasPrefix(markerPrefix),
            let pid = pid_t(name.dropFirst(markerPrefix.count).prefix { $0.isNumber }), pid != parent
        else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { unlink(directory + "/" + name) }
    }
}

func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func mebibytes(_ bytes: Int) -> String {
    let tenths = (bytes * 10 + (1 << 19)) >> 20
    return "\(tenths / 10).\(tenths % 10) MiB"
}
