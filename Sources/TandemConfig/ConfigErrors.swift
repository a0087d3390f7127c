// Everything wrong with a configuration file at once, so that a person fixes it in one pass.

/// The problems that make a configuration file unusable, with the warnings found alongside.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    /// Every error and warning, sorted by line, then column (problems about the whole file first).
    public var diagnostics: [ConfigDiagnostic]

    /// Makes the error from diagnostics in any order; they are sorted.
    ///
    /// - Parameter diagnostics: The problems found; at least one should be an error.
    public init(_ diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = ConfigErrors.sorted(diagnostics)
    }

    /// The errors alone.
    public var errors: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .error } }

    /// The warnings alone.
    public var warnings: [ConfigDiagnostic] { diagnostics.filter { $0.severity == .warning } }

    /// Every diagnostic on its own line, then the count: `3 errors`.
    public var description: String {
        (diagnostics.map(\.description) + [ConfigErrors.count(errors.count, "error")]).joined(separator: "\n")
    }

    /// `1 error`, `2 errors`.
    static func count(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }

    /// Sorts by line, then column, keeping the order found among equals (stable).
    static func sorted(_ diagnostics: [ConfigDiagnostic]) -> [ConfigDiagnostic] {
        diagnostics.enumerated().sorted { a, b in
            (a.element.line, a.element.column, a.offset) < (b.element.line, b.element.column, b.offset)
        }.map(\.element)
    }
}
