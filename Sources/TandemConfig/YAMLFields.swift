// Reading typed values out of Yams nodes, reporting every problem with the place of the key or value.
//
// The readers never stop at a problem: they record a diagnostic, mark the item as failed and go on, so that
// one pass over the file finds every mistake in it.

import TandemPacket
import TandemRouting
import Yams

/// Collects diagnostics and turns Yams marks into source locations.
final class Reporter {
    /// The file name put into every diagnostic.
    let file: String
    /// What has been found so far, in the order found.
    private(set) var diagnostics: [ConfigDiagnostic] = []
    /// Column corrections for lines whose text was changed before parsing (see `YAMLDocument`): on `line`,
    /// columns after `column` moved by `delta`.
    var shifts: [Int: [(column: Int, delta: Int)]] = [:]

    init(file: String) { self.file = file }

    /// Whether an error (not only warnings) has been found.
    var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// The place of a mark in the file as the user wrote it.
    func location(_ mark: Mark?) -> SourceLocation {
        guard let mark else { return SourceLocation(file: file, line: 0, column: 0) }
        return location(line: mark.line, column: mark.column)
    }

    /// The place of a line and column of the parsed text in the file as the user wrote it.
    func location(line: Int, column: Int) -> SourceLocation {
        var corrected = column
        for shift in shifts[line] ?? [] where column > shift.column { corrected -= shift.delta }
        return SourceLocation(file: file, line: line, column: corrected)
    }

    func error(_ location: SourceLocation, _ message: String) {
        diagnostics.append(location.diagnostic(.error, message))
    }

    func warning(_ location: SourceLocation, _ message: String) {
        diagnostics.append(location.diagnostic(.warning, message))
    }

    func error(_ mark: Mark?, _ message: String) { error(location(mark), message) }
}

extension Node {
    /// Whether the node is YAML's null: an empty value, `~` or `null`, unquoted.
    var isNull: Bool {
        guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// What a person would call the node in "got ..." of a message.
    var shownAs: String {
        switch self {
        case .scalar(let scalar):
            if isNull { return "nothing" }
            let text = scalar.string
            return "'\(text.count > 60 ? String(text.prefix(57)) + "..." : text)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}

/// The keys of one YAML mapping and typed readers for their values.
final class Fields {
    let reporter: Reporter
    /// Where the mapping starts (its first key).
    let mark: Mark?
    /// What the mapping is, for messages: `the top level`, `tunnel 'a1'`, `route 198.19.0.0/16`.
    var context: String
    /// Set when a value could not be read: the item is then left out of the configuration.
    private(set) var failed = false
    private var entries: [String: (keyMark: Mark?, value: Node)] = [:]
    private var order: [String] = []

    /// Reads the keys of `node`, or reports that it is not a mapping (null counts as an empty mapping).
    ///
    /// - Parameters:
    ///   - node: The node.
    ///   - context: What the mapping is, for messages.
    ///   - reporter: Where problems go.
    init?(_ node: Node, context: String, reporter: Reporter) {
        self.reporter = reporter
        self.context = context
        self.mark = node.mark
        if node.isNull { return }
        guard case .mapping(let mapping) = node else {
            reporter.error(node.mark, "\(context) must be a mapping of keys to values, got \(node.shownAs)")
            return nil
        }
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                reporter.error(key.mark, "a key in \(context) must be a plain name, got \(key.shownAs)")
                continue
            }
            // Keys renamed because they were duplicates (reported already) are skipped.
            if scalar.string.hasPrefix(YAMLDocument.duplicateMarker) { continue }
            entries[scalar.string] = (key.mark, value)
            order.append(scalar.string)
        }
    }

    /// Reports keys that are not in `known`, suggesting the nearest known key.
    func checkKeys(_ known: [String]) {
        for key in order where !known.contains(key) {
            let nearest = ConfigText.nearest(to: key, among: known)
            if let nearest { suggested.insert(nearest) }
            reporter.error(
                entries[key]?.keyMark,
                "unknown key '\(key)' in \(context)" + (nearest.map { "; did you mean '\($0)'?" } ?? ""))
        }
    }

    /// Known keys that an unknown key's message suggests: a misspelt required key is reported once, as the
    /// unknown key, not a second time as missing.
    private var suggested: Set<String> = []

    /// Whether the mapping has `key` (with any value, null included).
    func has(_ key: String) -> Bool { entries[key] != nil }

    /// The value of `key`.
    func node(_ key: String) -> Node? { entries[key]?.value }

    /// The scalar text of `key` without checks (for naming the item in messages before reading it).
    func peek(_ key: String) -> String? {
        guard case .scalar(let scalar)? = entries[key]?.value, !(entries[key]!.value.isNull) else { return nil }
        return scalar.string
    }

    /// Where the value of `key` is, or the mapping's start.
    func valueLocation(_ key: String) -> SourceLocation {
        reporter.location(entries[key]?.value.mark ?? entries[key]?.keyMark ?? mark)
    }

    /// Where the key `key` is, or the mapping's start.
    func keyLocation(_ key: String) -> SourceLocation { reporter.location(entries[key]?.keyMark ?? mark) }

    /// Where the mapping starts.
    var location: SourceLocation { reporter.location(mark) }

    /// The places of every value, by key.
    var keyLocations: [String: SourceLocation] {
        var result: [String: SourceLocation] = [:]
        for (key, entry) in entries { result[key] = reporter.location(entry.value.mark ?? entry.keyMark) }
        return result
    }

    /// Reports a problem with the value of `key` and marks the item failed.
    func fail(_ key: String, _ message: String) {
        failed = true
        reporter.error(valueLocation(key), message)
    }

    /// Reports a problem at `location` and marks the item failed.
    func fail(at location: SourceLocation, _ message: String) {
        failed = true
        reporter.error(location, message)
    }

    /// Reports that a required key is missing, at the mapping's start.
    func missing(_ key: String, hint: String = "") {
        failed = true
        if suggested.contains(key) { return }
        reporter.error(mark, "missing required key '\(key)' in \(context)\(hint)")
    }

    // MARK: scalars

    /// The text of the scalar value of `key`; `nil` if absent (no report) or not a scalar (reported).
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - expecting: What the value should be, for the message (`an integer`).
    func scalar(_ key: String, expecting: String) -> String? {
        guard let value = node(key) else { return nil }
        guard case .scalar(let scalar) = value, !value.isNull else {
            fail(key, "'\(key)' must be \(expecting), got \(value.shownAs)")
            return nil
        }
        return scalar.string
    }

    /// A string value; `fallback` when absent, which reports a missing key when `fallback` is `nil`.
    func string(_ key: String, default fallback: String? = nil) -> String? {
        guard has(key) else {
            if fallback == nil { missing(key) }
            return fallback
        }
        return scalar(key, expecting: "a string")
    }

    /// A name (1 to 64 of `A-Z a-z 0-9 _ . -`); required.
    func name(_ key: String) -> String? {
        guard let text = string(key) else { return nil }
        guard ConfigText.isValidName(text) else {
            fail(key, "'\(key)' must be 1 to 64 letters, digits, '_', '.' or '-', got '\(text)'")
            return nil
        }
        return text
    }

    /// A Linux interface name; `fallback` when absent (`nil`: required).
    func interfaceName(_ key: String, default fallback: String? = nil) -> String? {
        guard let text = string(key, default: fallback) else { return nil }
        if let problem = ConfigText.interfaceNameProblem(text) {
            fail(key, "'\(key)' is not a valid interface name, got '\(text)': \(problem)")
            return nil
        }
        return text
    }

    /// An integer in `range`; `fallback` when absent (`nil`: required).
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - range: The values allowed.
    ///   - fallback: The default.
    ///   - why: Added to the range message, e.g. ` for an IPv6 peer`.
    func int(_ key: String, in range: ClosedRange<Int>, default fallback: Int? = nil, why: String = "") -> Int? {
        guard has(key) else {
            if fallback == nil { missing(key) }
            return fallback
        }
        guard let text = scalar(key, expecting: "an integer") else { return nil }
        guard let value = Fields.integer(text) else {
            if Fields.isIntegerSyntax(text) {
                fail(key, "'\(key)' must be between \(range.lowerBound) and \(range.upperBound)\(why), got \(text)")
            } else {
                fail(key, "'\(key)' must be an integer, got '\(text)'")
            }
            return nil
        }
        guard range.contains(value) else {
            fail(key, "'\(key)' must be between \(range.lowerBound) and \(range.upperBound)\(why), got \(value)")
            return nil
        }
        return value
    }

    /// A decimal integer with an optional minus sign.
    static func integer(_ text: String) -> Int? {
        guard isIntegerSyntax(text) else { return nil }
        return Int(text)
    }

    /// Whether the text is written like a decimal integer (whether or not it fits).
    static func isIntegerSyntax(_ text: String) -> Bool {
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// `true` or `false`; `fallback` when absent.
    func bool(_ key: String, default fallback: Bool) -> Bool? {
        guard has(key) else { return fallback }
        guard let text = scalar(key, expecting: "true or false") else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            fail(key, "'\(key)' must be true or false, got '\(text)'")
            return nil
        }
    }

    /// One of the cases of a string enum; `fallback` when absent (`nil`: required).
    func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, default fallback: Choice? = nil
    ) -> Choice? where Choice.RawValue == String {
        guard has(key) else {
            if fallback == nil { missing(key) }
            return fallback
        }
        let names = Choice.allCases.map(\.rawValue)
        let expecting = ConfigText.alternatives(names)
        guard let text = scalar(key, expecting: expecting) else { return nil }
        guard let value = Choice(rawValue: text) else {
            fail(key, "'\(key)' must be \(expecting), got '\(text)'" + ConfigText.suggestion(for: text, among: names))
            return nil
        }
        return value
    }

    /// A duration in `range`; `fallback` when absent (`nil`: required).
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - range: The durations allowed.
    ///   - rangeText: The range as the message says it, e.g. `between 10ms and 1h`.
    ///   - fallback: The default.
    func duration(
        _ key: String, in range: ClosedRange<Duration>, rangeText: String, default fallback: Duration? = nil
    ) -> Duration? {
        guard has(key) else {
            if fallback == nil { missing(key) }
            return fallback
        }
        let example = "a duration such as '10ms', '1.5s', '2m' or '1h'"
        guard let text = scalar(key, expecting: example) else { return nil }
        let value: Duration
        do throws(ConfigDuration.ParseError) {
            value = try ConfigDuration.parse(text)
        } catch .missingUnit(let suggestion) {
            fail(key, "'\(key)' needs a unit: write '\(suggestion)' (units: ms, s, m, h), got '\(text)'")
            return nil
        } catch .outOfRange {
            fail(key, "'\(key)' must be \(rangeText), got '\(text)'")
            return nil
        } catch {
            fail(key, "'\(key)' must be \(example), got '\(text)'")
            return nil
        }
        guard range.contains(value) else {
            fail(key, "'\(key)' must be \(rangeText), got \(text)")
            return nil
        }
        return value
    }

    /// An IPv4 or IPv6 address; required.
    func address(_ key: String) -> AnyIPAddress? {
        guard has(key) else {
            missing(key)
            return nil
        }
        guard let text = scalar(key, expecting: "an IPv4 or IPv6 address") else { return nil }
        do throws(AddressParseError) {
            return try AnyIPAddress(text)
        } catch {
            fail(key, "'\(key)' is not a valid \(error.family) address: \(error)")
            return nil
        }
    }

    /// An IPv4 or IPv6 prefix with no host bits set; required.
    func prefix(_ key: String) -> RoutePrefix? {
        guard has(key) else {
            missing(key)
            return nil
        }
        guard let text = scalar(key, expecting: "an IPv4 or IPv6 prefix") else { return nil }
        do throws(PrefixError) {
            return try RoutePrefix(text)
        } catch {
            fail(key, "'\(key)' is not a valid prefix: \(error)")
            return nil
        }
    }

    /// A list; `nil` when absent (no report) or not a list (reported). Null counts as an empty list.
    func list(_ key: String) -> [Node]? {
        guard let value = node(key) else { return nil }
        if value.isNull { return [] }
        guard case .sequence(let sequence) = value else {
            fail(key, "'\(key)' must be a list, got \(value.shownAs)")
            return nil
        }
        return Array(sequence)
    }
}
