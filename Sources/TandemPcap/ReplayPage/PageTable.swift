// The page's tables: a header row and body rows of cells, each cell escaped, numeric columns right aligned.

/// An HTML table.
struct PageTable {
    var id: String
    var headers: [String]
    var rows: [[String]]
    /// Columns whose cells are numbers (right aligned).
    var numeric: Set<Int> = []

    var html: String {
        func cell(_ tag: String, _ text: String, _ column: Int) -> String {
            let attribute = numeric.contains(column) ? " class=\"num\"" : ""
            return "<\(tag)\(attribute)>\(escapeHTML(text))</\(tag)>"
        }
        var out = "<table id=\"\(id)\">\n<thead><tr>"
        for (column, header) in headers.enumerated() { out += cell("th", header, column) }
        out += "</tr></thead>\n<tbody>\n"
        for row in rows {
            out += "<tr>"
            for (column, text) in row.enumerated() { out += cell("td", text, column) }
            out += "</tr>\n"
        }
        out += "</tbody>\n</table>\n"
        return out
    }
}
