// From bytes to a Yams node tree, with every YAML-level problem as a diagnostic: unreadable files, invalid
// UTF-8, syntax errors and duplicate keys.
//
// Yams stops at the first duplicate key of a document and names only the first of the two places. To report
// every duplicate with both lines, the key's second spelling is found in the text, renamed to a marker that the
// readers skip, and the text parsed again; a renamed line's later columns are corrected in the diagnostics.

import Yams

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

enum YAMLDocument {
    /// The prefix of a renamed duplicate key.
    static let duplicateMarker = "__tandem_duplicate_"

    /// The most duplicate keys reported in one file before giving up on the rest.
    static let maximumDuplicates = 100

    /// Reads a whole file.
    ///
    /// - Parameter path: The path.
    /// - Returns: The bytes, or the `errno` of the call that failed. The corresponding C functions are `open`
    ///   and `read`.
    static func readFile(_ path: String) -> Result<[UInt8], ReadFailure> {
        var descriptor: CInt
        repeat { descriptor = open(path, O_RDONLY | O_CLOEXEC) } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { return .failure(.system(code: errno)) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.system(code: errno))
            }
            if count == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[0..<count])
            // Checked as it is read: /dev/zero or a runaway generator must not take the router's memory.
            if bytes.count > maximumSize { return .failure(.tooLarge) }
        }
    }

    /// The largest configuration read, in bytes: 16 MiB holds well over 100,000 static routes, far beyond what a
    /// gateway's file lists (learned routes come from the kernel, not the file).
    static let maximumSize = 16 << 20

    /// Why a file could not be read.
    enum ReadFailure: Error {
        /// A failed system call's `errno`.
        case system(code: CInt)
        /// More than ``YAMLDocument/maximumSize`` bytes.
        case tooLarge

        /// The reason, for a diagnostic: the system's text of the code (`No such file or directory`), or the
        /// size limit. The corresponding C function is `strerror`.
        var text: String {
            switch self {
            case .system(let code): String(cString: strerror(code))
            case .tooLarge:
                "it is larger than \(YAMLDocument.maximumSize >> 20) MiB, the most Tandem reads as a configuration; "
                    + "check that this is the gateway's file"
            }
        }
    }

    /// Decodes UTF-8, or reports the first line with a byte sequence that is not UTF-8.
    static func decode(_ bytes: [UInt8], reporter: Reporter) -> String? {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var line = 1
        for lineBytes in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if String(validating: lineBytes, as: UTF8.self) == nil { break }
            line += 1
        }
        reporter.error(
            SourceLocation(file: reporter.file, line: line, column: 0),
            "the file is not valid UTF-8 text (a byte sequence on this line is not UTF-8); save it as UTF-8")
        return nil
    }

    /// Parses the text into one node tree, reporting syntax errors and every duplicate key.
    ///
    /// - Returns: The root, or `nil` for an empty document or a syntax error (reported).
    static func compose(_ original: String, reporter: Reporter) -> Node? {
        var lines = Self.lines(of: original)
        var text = original
        for attempt in 0...maximumDuplicates {
            do {
                return try Yams.compose(yaml: text)
            } catch let error as YamlError {
                guard case .duplicatedKeysInMapping(let keys, let context) = error, attempt < maximumDuplicates,
                    let key = keys.first
                else {
                    report(error, reporter: reporter)
                    return nil
                }
                let first = context.mark
                guard let second = findDuplicate(of: key, after: first, in: lines) else {
                    reporter.error(
                        first, "duplicate key '\(key)' in this mapping; a key may appear only once, remove one of them")
                    return nil
                }
                let firstPlace = reporter.location(first)
                reporter.error(
                    reporter.location(line: second.line, column: second.column),
                    "duplicate key '\(key)' (first at line \(firstPlace.line)); a key may appear only once, "
                        + "remove one of them")
                // Rename the second spelling and parse again.
                let marker = "\(duplicateMarker)\(attempt)"
                var scalars = Array(lines[second.line - 1].unicodeScalars)
                let start = second.column - 1
                scalars.replaceSubrange(start..<start + second.length, with: marker.unicodeScalars)
                lines[second.line - 1] = String(String.UnicodeScalarView(scalars))
                reporter.shifts[second.line, default: []].append(
                    (column: second.column, delta: marker.unicodeScalars.count - second.length))
                text = lines.joined(separator: "\n")
            } catch {
                reporter.error(
                    SourceLocation(file: reporter.file, line: 0, column: 0), "cannot parse the file: \(error)")
                return nil
            }
        }
        return nil
    }

    /// The lines of `text` as libyaml counts them, whose marks say where a problem is: it breaks lines at LF, CR LF,
    /// a lone CR, and (YAML 1.1) NEL, LS and PS. Splitting at LF alone would put a file with CR LF line ends on one
    /// line (a Swift `Character` holds CR LF whole) and a lone CR's later lines one off.
    ///
    /// - Parameter text: The file's text.
    /// - Returns: The lines without their breaks; as many as libyaml's last line number.
    static func lines(of text: String) -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        var scalars = text.unicodeScalars.makeIterator()
        var next = scalars.next()
        while let scalar = next {
            next = scalars.next()
            switch scalar {
            case "\r":
                if next == "\n" { next = scalars.next() }
                fallthrough
            case "\n", "\u{85}", "\u{2028}", "\u{2029}":
                lines.append(String(current))
                current = String.UnicodeScalarView()
            default:
                current.append(scalar)
            }
        }
        lines.append(String(current))
        return lines
    }

    /// Where the second spelling of `key` is: the same key later in the mapping whose first key is at `first`.
    ///
    /// In a block mapping, the keys of one mapping stand at the same column on later lines, until a line that is
    /// less indented ends the mapping; in a flow mapping (`{a: 1, a: 2}`) they follow on the same line.
    /// - Returns: Line and column (1-based, in Unicode scalars) of the key text and its length, or `nil`.
    static func findDuplicate(of key: String, after first: Mark, in lines: [String])
        -> (line: Int, column: Int, length: Int)?
    {
        let keyScalars = Array(key.unicodeScalars)
        guard first.line >= 1, first.line <= lines.count else { return nil }
        let spellings: [[Unicode.Scalar]] = [
            keyScalars, Array("\"\(key)\"".unicodeScalars), Array("'\(key)'".unicodeScalars),
        ]
        /// The key spelling at `column` of `line` followed by optional spaces and a colon, if there is one.
        func keyAt(_ line: [Unicode.Scalar], _ column: Int) -> (column: Int, length: Int)? {
            for spelling in spellings {
                let end = column + spelling.count
                guard end <= line.count, Array(line[column..<end]) == spelling else { continue }
                var next = end
                while next < line.count && line[next] == " " { next += 1 }
                guard next < line.count, line[next] == ":" else { continue }
                // Inside quotes, rename only the inner text so that the line stays valid YAML.
                let quoted = spelling.count != keyScalars.count
                return (column + (quoted ? 2 : 1), keyScalars.count)
            }
            return nil
        }

        let firstLine = Array(lines[first.line - 1].unicodeScalars)
        let firstColumn = first.column - 1
        // A flow mapping: look further along the same line, after a '{' or ','.
        let before = firstLine[..<min(firstColumn, firstLine.count)].last { $0 != " " }
        if before == "{" || before == "," {
            var index = firstColumn + 1
            while index < firstLine.count {
                let previous = firstLine[..<index].last { $0 != " " }
                if previous == "," || previous == "{", let found = keyAt(firstLine, index) {
                    return (first.line, found.column, found.length)
                }
                index += 1
            }
            return nil
        }
        // A block mapping: the same column on a later line.
        var lineNumber = first.line + 1
        while lineNumber <= lines.count {
            let line = Array(lines[lineNumber - 1].unicodeScalars)
            defer { lineNumber += 1 }
            guard let indent = line.firstIndex(where: { $0 != " " }), line[indent] != "#" else { continue }
            if indent < firstColumn { return nil }
            if indent == firstColumn, let found = keyAt(line, indent) {
                return (lineNumber, found.column, found.length)
            }
        }
        return nil
    }

    /// Turns a Yams error into a diagnostic at its place.
    static func report(_ error: YamlError, reporter: Reporter) {
        func context(_ context: YamlError.Context?) -> String {
            guard let context else { return "" }
            return " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch error {
        case .scanner(let ctx, let problem, let mark, let yaml), .parser(let ctx, let problem, let mark, let yaml),
            .composer(let ctx, let problem, let mark, let yaml):
            // libyaml says "cannot start any token" for a tab; say why.
            let line = lines(of: yaml).dropFirst(mark.line - 1).first
            let character = line.flatMap { $0.unicodeScalars.dropFirst(mark.column - 1).first }
            let hint = character == "\t" ? "; YAML does not allow tabs for indentation, use spaces" : ""
            reporter.error(mark, "YAML syntax error: \(problem)\(context(ctx))\(hint)")
        case .reader(let problem, let offset, _, let yaml):
            var location = SourceLocation(file: reporter.file, line: 0, column: 0)
            if let offset {
                let before = yaml.prefix(offset)
                location.line = before.count(where: { $0 == "\n" }) + 1
                location.column = before.reversed().prefix { $0 != "\n" }.count + 1
            }
            reporter.error(location, "the file cannot be read as YAML: \(problem)")
        case .duplicatedKeysInMapping(let keys, let context):
            reporter.error(
                context.mark,
                "duplicate key \(keys.map { "'\($0)'" }.joined(separator: ", ")); a key may appear only once")
        default:
            reporter.error(SourceLocation(file: reporter.file, line: 0, column: 0), "cannot parse the file: \(error)")
        }
    }
}
