// JSON for everything Tandem writes in it: the event log's lines, the control socket's answers, the replay report.
// Written by hand (no Foundation), with the escaping RFC 8259 asks for; one string writer and one number writer
// serve the value tree (`JSONValue`) and the object written key by key (`JSONObject`).

/// A JSON value; objects keep their keys in the order given.
public indirect enum JSONValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    /// A finite number, integral values without a fraction (`3`, `0.25`, `1e-05`); NaN and infinities are written
    /// as `null` (JSON has no such numbers). The event log's figures.
    case number(Double)
    /// A finite number as Swift prints a `Double`, integral values with a fraction (`3.0`, `0.25`, `1e-05`); NaN
    /// and infinities are written as `null`. The replay report's figures, which have always been written so.
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// The value as compact JSON text (no spaces). Non-ASCII characters are written as UTF-8.
    public var json: String {
        var text = ""
        write(into: &text)
        return text
    }

    func write(into text: inout String) {
        switch self {
        case .string(let value): Self.writeString(value, into: &text)
        case .integer(let value): text += String(value)
        case .number(let value): text += value.isFinite ? Self.number(value) : "null"
        case .double(let value): text += value.isFinite ? String(value) : "null"
        case .bool(let value): text += value ? "true" : "false"
        case .null: text += "null"
        case .array(let values):
            text += "["
            for (index, value) in values.enumerated() {
                if index > 0 { text += "," }
                value.write(into: &text)
            }
            text += "]"
        case .object(let members):
            text += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { text += "," }
                Self.writeString(key, into: &text)
                text += ":"
                value.write(into: &text)
            }
            text += "}"
        }
    }

    /// A finite double: integral values without a fraction (`3`), others in Swift's shortest form (`0.25`,
    /// `1e-05`), which is valid JSON.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A quoted string: `"` and `\` escaped, control characters as `\n`, `\t`, ... or `\u00XX`, and U+2028 and
    /// U+2029 as `\u2028` and `\u2029` (JavaScript takes them for line ends).
    static func writeString(_ value: String, into text: inout String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            case "\u{2028}": text += "\\u2028"
            case "\u{2029}": text += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        text += "\""
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}
