// The small languages inside configuration values: durations ("1.5s"), integers, names, interface names, and
// the "did you mean" suggestions of error messages.

import TandemRouting

/// Reading and writing durations as the configuration spells them: a decimal number and a unit, `10ms`, `1.5s`,
/// `2m`, `1h` (units: ns, us, ms, s, m, h).
public enum ConfigDuration {
    /// The units, longest suffix first so that `ms` is not read as `m`.
    static let units: [(suffix: String, nanoseconds: Int64)] = [
        ("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ]

    /// Why a text is not a duration.
    public enum ParseError: Error, Equatable, Sendable {
        /// A number without a unit; the associated text is the number with an `s`, as a suggestion.
        case missingUnit(suggestion: String)
        /// Not a number followed by a unit.
        case malformed
        /// More than 10 000 hours or finer than a nanosecond.
        case outOfRange
    }

    /// Parses a duration such as `10ms`, `1.5s`, `2m` or `1h`.
    ///
    /// - Parameter text: The text, with nothing before or after it.
    /// - Returns: The duration.
    /// - Throws: ``ParseError``.
    public static func parse(_ text: String) throws(ParseError) -> Duration {
        // The unit is the trailing letters.
        let letters = text.reversed().prefix { $0.isLetter }.count
        let suffix = String(text.suffix(letters))
        let number = text.dropLast(letters)
        if letters == 0 {
            if isDecimal(number) { throw .missingUnit(suggestion: "\(number)s") }
            throw .malformed
        }
        guard let unit = units.first(where: { $0.suffix == suffix }) else { throw .malformed }
        let scale = unit.nanoseconds
        guard isDecimal(number) else { throw .malformed }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        guard whole.count <= 12, let wholeValue = Int64(whole) else { throw .outOfRange }
        let (product, overflow) = wholeValue.multipliedReportingOverflow(by: scale)
        guard !overflow else { throw .outOfRange }
        var nanoseconds = product
        // The fraction in nanoseconds, exactly: digits beyond a nanosecond must be zeros.
        var fractionScale = scale
        for digit in fraction {
            let value = Int64(digit.wholeNumberValue ?? 0)
            if fractionScale % 10 != 0 {
                if value != 0 { throw .outOfRange }
                continue
            }
            fractionScale /= 10
            nanoseconds += value * fractionScale
        }
        guard nanoseconds <= 10_000 * 3_600_000_000_000 else { throw .outOfRange }
        return .nanoseconds(nanoseconds)
    }

    /// `digits` or `digits.digits`.
    private static func isDecimal(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        return parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }

    /// The shortest exact text of a duration: `0s`, `10ms`, `1.5s`, `2m`, `1h`.
    ///
    /// - Parameter duration: A duration of zero or more.
    /// - Returns: Text that ``parse(_:)`` reads back to the same duration.
    public static func format(_ duration: Duration) -> String {
        let nanoseconds = duration.totalNanoseconds
        if nanoseconds == 0 { return "0s" }
        for (suffix, scale) in units.reversed() where scale >= 1_000_000_000 && nanoseconds % scale == 0 {
            return "\(nanoseconds / scale)\(suffix)"
        }
        if nanoseconds >= 1_000_000_000 {
            var fraction = String(nanoseconds % 1_000_000_000)
            fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            return "\(nanoseconds / 1_000_000_000).\(fraction)s"
        }
        for (suffix, scale) in units.reversed() where scale < 1_000_000_000 && nanoseconds % scale == 0 {
            return "\(nanoseconds / scale)\(suffix)"
        }
        return "\(nanoseconds)ns"
    }
}

/// Names and suggestions.
enum ConfigText {
    /// Whether `text` is a valid name for the gateway, a tunnel or a connection: 1 to 64 of `A-Z a-z 0-9 _ . -`.
    static func isValidName(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
    }

    /// Why `text` is not a Linux interface name, or `nil` if it is one. The rules are the kernel's
    /// (`dev_valid_name`): 1 to 15 bytes, no `/`, `:` or whitespace, not `.` or `..`.
    static func interfaceNameProblem(_ text: String) -> String? {
        if text.isEmpty { return "an interface name cannot be empty" }
        if text.utf8.count > 15 { return "an interface name has at most 15 characters, this has \(text.utf8.count)" }
        if text == "." || text == ".." { return "'.' and '..' are not interface names" }
        if text.contains("/") { return "an interface name cannot contain '/'" }
        if text.contains(":") { return "an interface name cannot contain ':' (the kernel keeps it for aliases)" }
        if text.unicodeScalars.contains(where: { $0.properties.isWhitespace }) {
            return "an interface name cannot contain whitespace"
        }
        return nil
    }

    /// `"; did you mean 'tunnels'?"` when one of `candidates` is close to `word`, else `""`.
    static func suggestion(for word: String, among candidates: some Sequence<String>) -> String {
        guard let best = nearest(to: word, among: candidates) else { return "" }
        return "; did you mean '\(best)'?"
    }

    /// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
    static func nearest(to word: String, among candidates: some Sequence<String>) -> String? {
        let lowered = word.lowercased()
        var best: (name: String, distance: Int)?
        for candidate in candidates where candidate != word {
            let distance = editDistance(lowered, candidate.lowercased())
            let limit = max(1, min(3, max(candidate.count, word.count) / 3))
            guard distance <= limit else { continue }
            if best == nil || distance < best!.distance { best = (candidate, distance) }
        }
        return best?.name
    }

    /// The optimal-string-alignment distance: insertions, deletions, substitutions and transpositions of
    /// neighbours each cost 1.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars)
        let b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    value = min(value, previous2[j - 2] + 1)
                }
                current[j] = value
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }

    /// `a`, `a or b`, `a, b or c`.
    static func alternatives(_ words: [String]) -> String {
        switch words.count {
        case 0: return ""
        case 1: return words[0]
        default: return words.dropLast().joined(separator: ", ") + " or " + words[words.count - 1]
        }
    }
}
