import TandemConfig
import Testing

/// Shared helpers: parse a text and look at what came out.
enum Check {
    /// Every diagnostic (errors and warnings) for `yaml`, or none when it parses without warnings.
    static func diagnostics(_ yaml: String) -> [ConfigDiagnostic] {
        do {
            return try GatewayConfig.parse(yaml: yaml, file: "gw.yaml").warnings
        } catch {
            return error.diagnostics
        }
    }

    /// The errors for `yaml`.
    static func errors(_ yaml: String) -> [ConfigDiagnostic] {
        diagnostics(yaml).filter { $0.severity == .error }
    }

    /// The warnings for `yaml`.
    static func warnings(_ yaml: String) -> [ConfigDiagnostic] {
        diagnostics(yaml).filter { $0.severity == .warning }
    }

    /// Expects exactly one error, at `line`:`column`, whose message contains every one of `parts`.
    static func onlyError(
        _ yaml: String, at line: Int, _ column: Int, _ parts: String...,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let found = errors(yaml)
        #expect(found.count == 1, "\(found.map(\.description))", sourceLocation: sourceLocation)
        guard let error = found.first else { return }
        #expect(error.file == "gw.yaml", sourceLocation: sourceLocation)
        #expect((error.line, error.column) == (line, column), "\(error)", sourceLocation: sourceLocation)
        for part in parts {
            #expect(error.message.contains(part), "'\(part)' not in: \(error.message)", sourceLocation: sourceLocation)
        }
    }

    /// Expects one error with exactly `message` at `line`:`column`.
    static func exactError(
        _ yaml: String, at line: Int, _ column: Int, _ message: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let found = errors(yaml)
        #expect(
            found.map(\.description) == ["gw.yaml:\(line):\(column): error: \(message)"], sourceLocation: sourceLocation
        )
    }

    /// The repository's root, found from this file's path.
    static var repositoryRoot: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/TandemConfigTests/ConfigTestSupport.swift
        return parts.joined(separator: "/")
    }
}

/// A valid start of a file with two single-tunnel connections, c1 (tunnel a1) and c2 (tunnel a2). It has 14
/// lines, so whatever is appended starts on line 15.
let header = """
    gateway:
      name: site-a
    tunnels:
      - name: a1
        device: tnd-a1
        peer: 198.18.10.1
      - name: a2
        device: tnd-a2
        peer: 198.18.20.1
    connections:
      - name: c1
        tunnels: [a1]
      - name: c2
        tunnels: [a2]

    """
