#if canImport(Glibc)
import Glibc
#endif

/// The resident set size of this process in bytes, from `/proc/self/statm`, or nil where that
/// file does not exist. Used to cross-check what the tables report about themselves.
func residentBytes() -> Int? {
    guard let file = fopen("/proc/self/statm", "r") else { return nil }
    defer { fclose(file) }
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = fread(&buffer, 1, buffer.count - 1, file)
    // Fields: size resident shared text lib data dt, in pages.
    let fields = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A monotonic clock reading in seconds.
func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func mebibytes(_ bytes: Int) -> String {
    let value = Double(bytes) / 1_048_576
    return value < 10 ? String(format1(value)) : String(Int(value.rounded()))
}

private func format1(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

func milliseconds(_ seconds: Double) -> String { "\(Int((seconds * 1000).rounded())) ms" }
