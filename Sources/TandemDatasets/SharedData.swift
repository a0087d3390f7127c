#if canImport(Glibc)
import Glibc
#endif

/// Finds the project's shared data (`../shared/data` next to the checkout), which a fresh
/// clone may not have: callers fall back to generated data and say so.
public enum SharedData {
    public static let fullTable = "full-table-2024.txt.gz"
    public static let updateTrace = "linx-updates-2014-v4.txt.gz"

    /// Where to look, in order: `$TANDEM_DATA`, then `../shared/data` and `shared/data` from the
    /// current directory and from the directory of the running executable upwards.
    public static func searchedDirectories() -> [String] {
        var directories: [String] = []
        if let environment = getenv("TANDEM_DATA") { directories.append(String(cString: environment)) }
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

    /// The path of the shared file `name`, if some searched directory has it.
    public static func path(of name: String) -> String? {
        for directory in searchedDirectories() {
            let candidate = directory + "/" + name
            if access(candidate, R_OK) == 0 { return candidate }
        }
        return nil
    }
}
