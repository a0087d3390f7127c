// Horizontal bars with their labels on the left and their values on the right: drops by reason, latency
// percentiles. Horizontal because the labels (drop reasons such as `malformed-extension-headers`) are long.

/// An SVG bar chart of labelled values.
struct BarChart {
    var id: String
    var title: String
    var rows: [(label: String, value: Double, text: String)]
    /// The class of each bar (`bar drop` for drops, `bar` otherwise): the colour comes from the style sheet.
    var barClass = "bar"
    /// What to say when there is nothing to draw ("no drops").
    var emptyText = "nothing to show"

    static let width = 1120.0
    static let labelWidth = 300.0
    static let valueWidth = 150.0
    static let rowHeight = 24.0

    var svg: String {
        let height = 12 + Double(max(rows.count, 1)) * Self.rowHeight + 8
        var out = """
            <svg id="\(id)" class="chart bar-chart" xmlns="http://www.w3.org/2000/svg" \
            viewBox="0 0 \(coordinate(Self.width)) \(coordinate(height))" role="img" aria-labelledby="\(id)-title">
            <title id="\(id)-title">\(escapeHTML(title))</title>

            """
        guard let largest = rows.map(\.value).max(), largest > 0 else {
            out +=
                "<text class=\"empty\" x=\"\(coordinate(Self.labelWidth))\" y=\"28\">\(escapeHTML(emptyText))</text>\n</svg>\n"
            return out
        }
        let barSpace = Self.width - Self.labelWidth - Self.valueWidth
        for (index, row) in rows.enumerated() {
            let top = 12 + Double(index) * Self.rowHeight
            let length = max(1, row.value / largest * barSpace)
            out +=
                "<g class=\"bar-row\"><text x=\"\(coordinate(Self.labelWidth - 10))\" y=\"\(coordinate(top + 15))\" "
                + "text-anchor=\"end\">\(escapeHTML(row.label))</text>"
                + "<rect class=\"\(barClass)\" x=\"\(coordinate(Self.labelWidth))\" y=\"\(coordinate(top + 3))\" "
                + "width=\"\(coordinate(length))\" height=\"\(coordinate(Self.rowHeight - 6))\"/>"
                + "<text x=\"\(coordinate(Self.labelWidth + length + 8))\" y=\"\(coordinate(top + 15))\">"
                + "\(escapeHTML(row.text))</text></g>\n"
        }
        out += "</svg>\n"
        return out
    }
}
