// The report's main chart: packets per bin of capture time, one line per egress and a dashed one for the drops,
// with the what-if events and the failover controller's selection changes as dashed vertical lines labelled with
// their text. Labels are laid out here (no script in the page): each goes in the first row above the plot where
// it does not overlap a label already there, so events at the same instant stack instead of overprinting.

/// The SVG of an ``EgressTimeline``.
struct TrafficChart {
    static let width = 1120.0
    static let plotLeft = 76.0
    static let plotRight = width - 28
    static let plotHeight = 300.0
    static let markRowHeight = 16.0
    /// Rows of event labels above the plot at most: more would push the plot far down.
    static let maximumMarkRows = 8
    static let legendRowHeight = 22.0
    /// Line colours of the egresses, in order (distinct in print and for the common colour blindnesses);
    /// the drops are red.
    static let palette = ["#2563eb", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569"]
    static let dropColour = "#dc2626"

    var timeline: EgressTimeline

    /// A line of the chart: what the legend says and the counts per bin.
    struct Series {
        var name: String
        var cssClass: String
        var colour: String
        var counts: [Int]
    }

    var series: [Series] {
        var lines = timeline.egressNames.enumerated().map { index, name in
            Series(
                name: name, cssClass: "series egress", colour: Self.palette[index % Self.palette.count],
                counts: timeline.packets[index])
        }
        lines.append(Series(name: "drops", cssClass: "series drops", colour: Self.dropColour, counts: timeline.drops))
        return lines
    }

    /// The marks drawn on the time axis (health changes repeat the what-if event and are only listed).
    var drawnMarks: [EgressTimeline.Mark] { timeline.marks.filter { $0.kind != .health } }

    /// A mark's label where it goes: its row above the plot, its anchor and horizontal extent.
    struct PlacedLabel {
        var mark: EgressTimeline.Mark
        var x: Double
        var row: Int
        var anchorEnd: Bool
        var text: String
    }

    /// Time on the horizontal axis: 0 to the end of the last bin.
    var span: Double { Double(max(timeline.span, 1)) }

    func x(ofOffset nanoseconds: Double) -> Double {
        Self.plotLeft + nanoseconds / span * (Self.plotRight - Self.plotLeft)
    }

    /// Each label in turn takes the row and side of its line (right, else left) that crosses the fewest other
    /// marks' lines, then the highest free row; a label never overlaps another label or leaves the chart. (The
    /// text has a white halo in the style sheet, so a line that must cross it still leaves it readable.)
    func placeLabels() -> [PlacedLabel] {
        let marks = drawnMarks
        let lineXs = marks.map { x(ofOffset: Double($0.offset)) }
        var rows: [[ClosedRange<Double>]] = Array(repeating: [], count: Self.maximumMarkRows)
        var placed: [PlacedLabel] = []
        for (index, mark) in marks.enumerated() {
            let x = lineXs[index]
            let text = "\(format(Double(mark.offset) / 1e9, 3)) s  \(mark.text)"
            let width = estimatedWidth(text, fontSize: 11)
            var best: (cost: Int, row: Int, anchorEnd: Bool, extent: ClosedRange<Double>)?
            for row in 0..<Self.maximumMarkRows {
                for anchorEnd in [false, true] {
                    let extent = anchorEnd ? (x - 4 - width)...(x - 4) : (x + 4)...(x + 4 + width)
                    guard extent.lowerBound >= 2, extent.upperBound <= Self.width - 2 else { continue }
                    let padded = (extent.lowerBound - 8)...(extent.upperBound + 8)
                    guard !rows[row].contains(where: { $0.overlaps(padded) }) else { continue }
                    let crossings = lineXs.filter { abs($0 - x) > 0.5 && extent.contains($0) }.count
                    let cost = crossings * 100 + row * 2 + (anchorEnd ? 1 : 0)
                    if best == nil || cost < best!.cost { best = (cost, row, anchorEnd, extent) }
                }
            }
            // No room in any row (very many events): the last row, over the others; the events table has them all.
            let choice = best ?? (0, Self.maximumMarkRows - 1, false, (x + 4)...(x + 4 + width))
            rows[choice.row].append(choice.extent)
            placed.append(PlacedLabel(mark: mark, x: x, row: choice.row, anchorEnd: choice.anchorEnd, text: text))
        }
        return placed
    }

    /// The legend's items laid out in rows across the chart's width: (item, x, row).
    func legendLayout() -> [(series: Series, text: String, x: Double, row: Int)] {
        var items: [(Series, String, Double, Int)] = []
        var x = Self.plotLeft
        var row = 0
        for line in series {
            let text = "\(line.name): \(grouped(line.counts.reduce(0, +))) packets"
            let width = 28 + estimatedWidth(text, fontSize: 12) + 24
            if x + width > Self.plotRight && x > Self.plotLeft {
                x = Self.plotLeft
                row += 1
            }
            items.append((line, text, x, row))
            x += width
        }
        return items
    }

    var svg: String {
        let labels = placeLabels()
        let markRows = (labels.map(\.row).max() ?? -1) + 1
        let plotTop = 16 + Double(markRows) * Self.markRowHeight + (markRows > 0 ? 6 : 0)
        let plotBottom = plotTop + Self.plotHeight
        let legend = legendLayout()
        let legendTop = plotBottom + 64
        let height = legendTop + Double((legend.map(\.row).max() ?? 0) + 1) * Self.legendRowHeight + 8
        let lines = series
        let yTicks = NiceTicks(maximum: Double(lines.flatMap(\.counts).max() ?? 0))
        func y(_ value: Double) -> Double { plotBottom - value / yTicks.top * Self.plotHeight }
        let binMilliseconds = format(
            Double(timeline.binNanoseconds) / 1e6, timeline.binNanoseconds % 1_000_000 == 0 ? 0 : 3)

        var out = """
            <svg id="traffic-chart" class="chart line-chart" xmlns="http://www.w3.org/2000/svg" \
            viewBox="0 0 \(coordinate(Self.width)) \(coordinate(height))" role="img" \
            aria-labelledby="traffic-chart-title">
            <title id="traffic-chart-title">Packets per \(binMilliseconds) ms per egress over capture time</title>

            """
        // Horizontal grid and the value axis.
        out += "<g class=\"grid\">\n"
        for value in yTicks.values {
            out +=
                "<line x1=\"\(coordinate(Self.plotLeft))\" x2=\"\(coordinate(Self.plotRight))\" "
                + "y1=\"\(coordinate(y(value)))\" y2=\"\(coordinate(y(value)))\"/>\n"
        }
        out += "</g>\n<g class=\"axis y-axis\">\n"
        out +=
            "<line x1=\"\(coordinate(Self.plotLeft))\" x2=\"\(coordinate(Self.plotLeft))\" y1=\"\(coordinate(plotTop))\" y2=\"\(coordinate(plotBottom))\"/>\n"
        for value in yTicks.values {
            out +=
                "<g class=\"tick\"><text x=\"\(coordinate(Self.plotLeft - 8))\" y=\"\(coordinate(y(value) + 4))\" "
                + "text-anchor=\"end\">\(grouped(Int(value.rounded())))</text></g>\n"
        }
        let middle = (plotTop + plotBottom) / 2
        out +=
            "<text class=\"axis-title\" transform=\"translate(16 \(coordinate(middle))) rotate(-90)\" "
            + "text-anchor=\"middle\">packets per \(binMilliseconds) ms</text>\n</g>\n"

        // The time axis, in seconds after the first packet.
        let xTicks = NiceTicks(maximum: span / 1e9, count: 10)
        out += "<g class=\"axis x-axis\">\n"
        out +=
            "<line x1=\"\(coordinate(Self.plotLeft))\" x2=\"\(coordinate(Self.plotRight))\" y1=\"\(coordinate(plotBottom))\" y2=\"\(coordinate(plotBottom))\"/>\n"
        for value in xTicks.values where value * 1e9 <= span * 1.0001 {
            let x = x(ofOffset: value * 1e9)
            out +=
                "<g class=\"tick\"><line x1=\"\(coordinate(x))\" x2=\"\(coordinate(x))\" y1=\"\(coordinate(plotBottom))\" "
                + "y2=\"\(coordinate(plotBottom + 5))\"/><text x=\"\(coordinate(x))\" y=\"\(coordinate(plotBottom + 19))\" "
                + "text-anchor=\"middle\">\(format(value, xTicks.decimals))</text></g>\n"
        }
        out +=
            "<text class=\"axis-title\" x=\"\(coordinate((Self.plotLeft + Self.plotRight) / 2))\" "
            + "y=\"\(coordinate(plotBottom + 38))\" text-anchor=\"middle\">capture time after the first packet (s)</text>\n"
        out += "</g>\n"

        // One line per series, a point at the middle of each bin.
        let binWidth = Double(timeline.binNanoseconds)
        for line in lines {
            var points = ""
            points.reserveCapacity(line.counts.count * 12)
            for (bin, count) in line.counts.enumerated() {
                if bin > 0 { points += " " }
                points += coordinate(x(ofOffset: (Double(bin) + 0.5) * binWidth)) + "," + coordinate(y(Double(count)))
            }
            out +=
                "<polyline class=\"\(line.cssClass)\" data-series=\"\(escapeHTML(line.name))\" "
                + "stroke=\"\(line.colour)\" points=\"\(points)\"><title>\(escapeHTML(line.name))</title></polyline>\n"
        }

        // The marks: a dashed line through the plot, its label in its row above.
        for label in labels {
            let labelY = 16 + Double(label.row) * Self.markRowHeight + 8
            let textX = label.anchorEnd ? label.x - 4 : label.x + 4
            out +=
                "<g class=\"marker \(label.mark.kind.rawValue)\">"
                + "<line x1=\"\(coordinate(label.x))\" x2=\"\(coordinate(label.x))\" y1=\"\(coordinate(labelY - 10))\" "
                + "y2=\"\(coordinate(plotBottom))\"/>"
                + "<text x=\"\(coordinate(textX))\" y=\"\(coordinate(labelY))\""
                + (label.anchorEnd ? " text-anchor=\"end\"" : "") + ">\(escapeHTML(label.text))</text></g>\n"
        }

        // The legend, with each line's total.
        out += "<g class=\"legend\">\n"
        for item in legend {
            let rowY = legendTop + Double(item.row) * Self.legendRowHeight
            let dash = item.series.cssClass.contains("drops") ? " stroke-dasharray=\"4 3\"" : ""
            out +=
                "<g class=\"legend-item\"><line x1=\"\(coordinate(item.x))\" x2=\"\(coordinate(item.x + 22))\" "
                + "y1=\"\(coordinate(rowY - 4))\" y2=\"\(coordinate(rowY - 4))\" stroke=\"\(item.series.colour)\" "
                + "stroke-width=\"3\"\(dash)/><text x=\"\(coordinate(item.x + 28))\" y=\"\(coordinate(rowY))\">"
                + "\(escapeHTML(item.text))</text></g>\n"
        }
        out += "</g>\n</svg>\n"
        return out
    }
}
