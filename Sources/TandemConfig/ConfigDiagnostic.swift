// One problem found in a configuration file, printed the way compilers print theirs so that editors and
// people find the spot: `file:line:col: error: message`.

/// A problem in a configuration file, with its place and a hint at the fix.
public struct ConfigDiagnostic: Error, Hashable, Sendable, CustomStringConvertible {
    /// How bad it is: an error makes the file unusable; a warning is printed and the file is used.
    public enum Severity: String, Sendable {
        case error
        case warning
    }

    /// The file's path as the user gave it.
    public var file: String
    /// 1-based line, or 0 when the problem is about the whole file.
    public var line: Int
    /// 1-based column, or 0 when the problem is about the whole file or line.
    public var column: Int
    /// Error or warning.
    public var severity: Severity
    /// What is wrong and, where one is likely, the fix.
    public var message: String

    /// Makes a diagnostic.
    public init(file: String, line: Int, column: Int, severity: Severity = .error, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.severity = severity
        self.message = message
    }

    /// `file:line:col: error: message` (line and column left out when unknown).
    public var description: String {
        var place = file
        if line > 0 {
            place += ":\(line)"
            if column > 0 { place += ":\(column)" }
        }
        return "\(place): \(severity.rawValue): \(message)"
    }
}
