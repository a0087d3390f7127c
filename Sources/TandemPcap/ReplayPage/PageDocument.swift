// The page around the charts and tables: one HTML file that needs nothing else (the CSS is inline, the charts are
// inline SVG, there is no script), so it can be mailed, attached to a ticket or opened from a directory listing.

/// The document skeleton and its style sheet.
enum PageDocument {
    /// A whole page: `title` (escaped here) and `body` (already HTML).
    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escapeHTML(title))</title>
        <style>
        \(css)
        </style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }

    /// A section with a heading and an id to link to.
    static func section(id: String, heading: String, _ content: String) -> String {
        "<section id=\"\(id)\">\n<h2>\(escapeHTML(heading))</h2>\n\(content)</section>\n"
    }

    /// Print-friendly and readable without a framework: system fonts, numbers in tabular figures and right
    /// aligned, charts as wide as the page.
    static let css = """
        :root { color-scheme: light; --ink: #1f2937; --muted: #6b7280; --rule: #e5e7eb; --band: #f9fafb; }
        body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
          color: var(--ink); margin: 24px auto; max-width: 1180px; padding: 0 16px; }
        h1 { font-size: 22px; margin: 0 0 4px; }
        h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
        p.note { color: var(--muted); margin: 4px 0 12px; }
        table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
        th, td { padding: 4px 12px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
        th { background: var(--band); font-weight: 600; }
        td.num, th.num { text-align: right; }
        tbody tr:nth-child(even) td { background: var(--band); }
        code { font: 13px ui-monospace, "DejaVu Sans Mono", monospace; }
        svg.chart { display: block; width: 100%; height: auto; margin: 6px 0 12px; }
        svg.chart text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
          fill: var(--ink); }
        svg.chart .axis line, svg.chart .axis path { stroke: #9ca3af; }
        svg.chart .grid line { stroke: var(--rule); }
        svg.chart .tick text { fill: var(--muted); font-size: 11px; }
        svg.chart .series { fill: none; stroke-width: 1.6; stroke-linejoin: round; }
        svg.chart .series.drops { stroke-dasharray: 4 3; }
        svg.chart .marker line { stroke-width: 1.2; stroke-dasharray: 5 4; }
        svg.chart .marker text { font-size: 11px; paint-order: stroke; stroke: #ffffff; stroke-width: 4px;
          stroke-linejoin: round; }
        svg.chart .marker.what-if line { stroke: #b91c1c; }
        svg.chart .marker.what-if text { fill: #b91c1c; }
        svg.chart .marker.selection line { stroke: #7c3aed; }
        svg.chart .marker.selection text { fill: #7c3aed; }
        svg.chart .bar { fill: #2563eb; }
        svg.chart .bar.drop { fill: #dc2626; }
        svg.chart .empty { fill: var(--muted); }
        """
}
