// Text for the report page: every string that comes from outside (file names, tunnel names, event text) goes
// through `escapeHTML` before it is written into the page, so an event file with `<script>` in it shows as text
// and runs nothing. Numbers are written by hand, not by a locale, so the same report gives the same bytes.

/// `text` safe inside an element or a quoted attribute: `& < > " '` as entities.
func escapeHTML(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(text.utf8.count)
    for character in text.unicodeScalars {
        switch character {
        case "&": escaped += "&amp;"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\"": escaped += "&quot;"
        case "'": escaped += "&#39;"
        default: escaped.unicodeScalars.append(character)
        }
    }
    return escaped
}

/// An integer with thousands separators: 1000000 -> "1,000,000".
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var result = ""
    for (index, digit) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
        result.append(digit)
    }
    return value < 0 ? "-" + result : result
}

/// Nanoseconds after the first packet as seconds with three decimals: "2.500 s".
func secondsText(_ nanoseconds: UInt64) -> String { format(Double(nanoseconds) / 1e9, 3) + " s" }

/// A share as a percentage with one decimal ("42.0%"), or "-" of nothing.
func percentText(_ part: Int, of whole: Int) -> String {
    whole > 0 ? format(Double(part) * 100 / Double(whole), 1) + "%" : "-"
}

/// An SVG coordinate: one decimal is finer than a pixel and keeps the file small.
func coordinate(_ value: Double) -> String { format(value, 1) }

/// A rough width of `text` in pixels at `fontSize` in a sans-serif font (for laying labels out without a
/// browser): wide enough for digits and lower case, so labels placed with it do not overlap.
func estimatedWidth(_ text: String, fontSize: Double) -> Double { Double(text.count) * fontSize * 0.6 }
