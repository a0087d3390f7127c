#if canImport(Glibc)
import Glibc
#endif

/// Finds the project's shared data (`../shared/data` next to the checkout), which a fresh
/// clone may not have: callers fall back to generated data and say so.
public enum SharedData {
    public static let fullTable = "full-table-2024.txt.gz"
    public static let updateTrace = "linx-updates-2014-v4.txt.gz"

    /// Where to look: `$TANDEM_DATA` alone when it is set (so a run can be pinned to a copy, or
    /// to none at all); otherwise `../shared/data` and `shared/data` from the current directory
    /// and from the directory of the running executable, and from their parents.
    public static func searchedDirectories() -> [String] {
        if let environment = getenv("TANDEM_DATA") { return [String(cString: environment)] }
        var directories: [String] = []
        var starts: [String] = []
        if let cwd = getcwd(nil, 0) {
            starts.append(String(cString: cwd))
            free(cwd)
        }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if count > 0 {
            let exe = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            starts.append(String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)]))
        }
        for start in starts {
            var directory = start
            for _ in 0..<6 {
                directories.append(directory + "/../shared/data")
                directories.append(directory + "/shared/data")
                guard let slash = directory.lastIndex(of: "/"), slash != directory.startIndex else { break }
                directory = String(directory[..<slash])
            }
        }
        return directories
    }

    /// Where the search looked, in words, for messages.
    public static var searchDescription: String {
        if let environment = getenv("TANDEM_DATA") { return "$TANDEM_DATA (\(String(cString: environment)))" }
        return "../shared/data above the working directory or the executable"
    }

    /// The path of the shared file `name`, if some searched directory has it.
    public static func path(of name: String) -> String? {
        for directory in searchedDirectories() {
            let candidate = directory + "/" + name
            if access(candidate, R_OK) == 0 { return candidate }
        }
        return nil
    }
}
