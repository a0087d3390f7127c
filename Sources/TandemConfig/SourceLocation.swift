// Where a piece of configuration was written, so that a problem found later (a device that does not exist, a
// peer that never answers) can point at the line a person has to change.

/// A place in a configuration file.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    /// The file's path as the user gave it.
    public var file: String
    /// 1-based line, or 0 when unknown (a configuration built in code).
    public var line: Int
    /// 1-based column (counted in Unicode scalars, as the YAML parser counts), or 0 when unknown.
    public var column: Int

    /// Makes a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// The location of something that was not read from a file.
    public static let unknown = SourceLocation(file: "", line: 0, column: 0)

    /// `file:line:col`, leaving out what is unknown.
    public var description: String {
        var place = file
        if line > 0 {
            place += ":\(line)"
            if column > 0 { place += ":\(column)" }
        }
        return place
    }

    /// A diagnostic at this place.
    ///
    /// - Parameters:
    ///   - severity: Error or warning.
    ///   - message: What is wrong and the likely fix.
    /// - Returns: The diagnostic.
    public func diagnostic(_ severity: ConfigDiagnostic.Severity, _ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(file: file, line: line, column: column, severity: severity, message: message)
    }
}

/// Something read from the configuration file: it knows where it starts and where each of its keys' values is.
public protocol ConfigItem: Sendable {
    /// Where the item starts (its first key).
    var location: SourceLocation { get }
    /// Where the value of each key that the file gives was written, by key name (`"device"`, `"mtu"`).
    /// Keys left to their defaults are absent.
    var keyLocations: [String: SourceLocation] { get }
}

extension ConfigItem {
    /// Where the value of `key` was written, or the item's start when the file leaves the key to its default.
    ///
    /// - Parameter key: A key of the item, as written in the file (`"health-check"`).
    /// - Returns: The best place to point a message about that key at.
    public func location(of key: String) -> SourceLocation { keyLocations[key] ?? location }
}
