// A JSON object written key by key: the control socket's answers build theirs so, record by record, and so does
// the replay report. Its strings and numbers are written as ``JSONValue`` writes them.

/// A JSON object written key by key, keys in the order given.
public struct JSONObject: Sendable {
    private var text = "{"
    private var isEmpty = true

    /// An empty object.
    public init() {}

    private mutating func key(_ key: String) {
        if !isEmpty { text += "," }
        isEmpty = false
        text += JSONObject.quote(key) + ":"
    }

    /// A string member, `null` for nil.
    public mutating func add(_ name: String, _ value: String?) {
        key(name)
        text += value.map(JSONObject.quote) ?? "null"
    }

    /// An integer member.
    public mutating func add(_ name: String, _ value: some BinaryInteger) {
        key(name)
        text += String(value)
    }

    /// A boolean member.
    public mutating func add(_ name: String, _ value: Bool) {
        key(name)
        text += value ? "true" : "false"
    }

    /// A value already in JSON (an object, an array).
    public mutating func add(_ name: String, raw value: String) {
        key(name)
        text += value
    }

    /// Any JSON value.
    public mutating func add(_ name: String, _ value: JSONValue) {
        key(name)
        value.write(into: &text)
    }

    /// The object as JSON text.
    public var rendered: String { text + "}" }

    /// A JSON array of values already in JSON.
    public static func array(_ values: [String]) -> String { "[" + values.joined(separator: ",") + "]" }

    /// A JSON string, quoted and escaped.
    public static func quote(_ string: String) -> String {
        var out = ""
        JSONValue.writeString(string, into: &out)
        return out
    }
}
