import Foundation
import TandemDaemon
import TandemDataplane
import TandemRouting
import Testing

/// contrib/grafana/tandem.json queries only metrics Tandem exports: every metric name in every query is one the
/// daemon's metrics registry renders (a histogram through its `_bucket`, `_sum` and `_count` series), so a
/// misspelled or renamed metric fails here instead of drawing an empty panel.
@Suite("Grafana dashboard")
struct GrafanaDashboardTests {
    /// The repository's root: this file is Tests/TandemDaemonTests/GrafanaDashboardTests.swift.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func dashboard() throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("contrib/grafana/tandem.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The series names Tandem exports, from the exposition of a registry in which every metric has been made:
    /// the values read at scrape time from a full snapshot, and one of each metric recorded as it happens.
    static func exportedSeries() -> Set<String> {
        let metrics = DaemonMetrics()
        var snapshot = MetricsSnapshot()
        snapshot.pipeline = PipelineCounters(tunnels: 1)
        snapshot.tunnels = [.init(name: "a1", device: "tnd-a1", up: true)]
        snapshot.connections = [.init(name: "c1", tunnels: ["a1"], selected: "a1")]
        snapshot.ready = true
        snapshot.pendingChanges = ["rule": 1]
        metrics.update(snapshot)
        metrics.recordProbe(tunnel: "a1", rtt: .milliseconds(3))
        metrics.recordProbe(tunnel: "a1", rtt: nil)
        metrics.recordFailover(connection: "c1")
        metrics.recordNetlinkErrors(1)
        metrics.recordControlTurn(.microseconds(50))
        metrics.recordLearningResync()
        var series = Set<String>()
        for line in String(decoding: metrics.exposition(), as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("# TYPE ") {
            let words = line.split(separator: " ")
            guard words.count == 4 else { continue }
            let name = String(words[2])
            if words[3] == "histogram" || words[3] == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] where words[3] == "histogram" || suffix != "_bucket" {
                    series.insert(name + suffix)
                }
            } else {
                series.insert(name)
            }
        }
        return series
    }

    /// The metric names a PromQL expression reads: what is left once strings, label matchers, ranges, grouping
    /// clauses, dashboard variables, numbers, keywords and function names are taken out.
    static func metricNames(in expression: String) -> Set<String> {
        var text = expression
        // label_values(metric, label) of a template variable: the metric only.
        if text.hasPrefix("label_values("), let comma = text.firstIndex(of: ",") {
            text = String(text[text.index(text.startIndex, offsetBy: 13)..<comma])
        }
        // Quoted strings (label values, regular expressions), then {matchers} and [ranges].
        var kept = ""
        var quote: Character?
        var escaped = false
        var depth = 0
        for character in text {
            if let open = quote {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == open {
                    quote = nil
                }
                continue
            }
            switch character {
            case "\"", "'", "`": quote = character
            case "{", "[": depth += 1
            case "}", "]": depth -= 1
            default: if depth == 0 { kept.append(character) }
            }
        }
        // by (le, tunnel), without (...), on (...), ignoring (...), group_left (...): label names, not metrics.
        let grouping = try! Regex(#"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"#)
        kept = kept.replacing(grouping, with: " ")
        kept = kept.replacing(try! Regex(#"\$\{?[A-Za-z0-9_]+\}?"#), with: " ")
        let keywords: Set<String> = [
            "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "Inf", "NaN", "inf", "nan",
        ]
        var names = Set<String>()
        let characters = Array(kept)
        var index = 0
        func isName(_ character: Character, first: Bool) -> Bool {
            character == "_" || character == ":" || (character.isASCII && character.isLetter)
                || (!first && character.isASCII && character.isNumber)
        }
        while index < characters.count {
            let character = characters[index]
            if character.isASCII && character.isNumber {
                // A number: 0.99, 8, 1e3, 0x1f.
                while index < characters.count, characters[index].isASCII,
                    characters[index].isLetter || characters[index].isNumber || characters[index] == "."
                {
                    index += 1
                }
            } else if isName(character, first: true) {
                var end = index
                while end < characters.count, isName(characters[end], first: false) { end += 1 }
                let word = String(characters[index..<end])
                var next = end
                while next < characters.count, characters[next] == " " { next += 1 }
                let isCall = next < characters.count && characters[next] == "("
                if !isCall && !keywords.contains(word) { names.insert(word) }
                index = end
            } else {
                index += 1
            }
        }
        return names
    }

    /// Every query of the dashboard: targets' `expr`, annotations' `expr`, template variables' queries.
    static func queries(in value: Any) -> [String] {
        if let object = value as? [String: Any] {
            var found: [String] = []
            for (key, child) in object.sorted(by: { $0.key < $1.key }) {
                if key == "expr" || key == "definition", let text = child as? String { found.append(text) }
                found += queries(in: child)
            }
            return found
        }
        if let array = value as? [Any] { return array.flatMap { queries(in: $0) } }
        return []
    }

    @Test func theExtractorFindsMetricNamesAndNothingElse() {
        #expect(
            Self.metricNames(
                in:
                    #"histogram_quantile(0.99, sum by (le, tunnel) (rate(tandem_probe_rtt_seconds_bucket{instance=~"$instance", tunnel!="a}b"}[$__rate_interval])))"#
            )
                == ["tandem_probe_rtt_seconds_bucket"])
        #expect(
            Self.metricNames(in: "8 * sum(rate(a_total[5m])) by (tunnel) / on (tunnel) group_left b > 0 and bool c")
                == ["a_total", "b", "c"])
        #expect(Self.metricNames(in: "label_values(tandem_tunnel_up, instance)") == ["tandem_tunnel_up"])
        let exported = Self.exportedSeries()
        #expect(!exported.contains("tandem_tunel_packets_total"), "a misspelled name is not exported")
        #expect(!exported.contains("tandem_probe_rtt_seconds"), "a histogram is read through its series")
        #expect(
            exported.isSuperset(of: [
                "tandem_probe_rtt_seconds_bucket", "tandem_probe_rtt_seconds_count", "tandem_tunnel_up",
            ]))
    }

    @Test func everyMetricTheDashboardQueriesIsOneTandemExports() throws {
        let exported = Self.exportedSeries()
        #expect(exported.count >= 20, "the registry rendered too few metrics: \(exported.sorted())")
        let queries = Self.queries(in: try Self.dashboard())
        #expect(queries.count >= 20)
        var used = Set<String>()
        for query in queries {
            let names = Self.metricNames(in: query)
            #expect(!names.isEmpty, "no metric in \(query)")
            for name in names {
                #expect(exported.contains(name), "\(name) (in \(query)) is not a metric Tandem exports")
            }
            used.formUnion(names)
        }
        // What the dashboard is for: tunnel state and selection, failovers, probe RTT, packets and drops.
        for name in [
            "tandem_tunnel_up", "tandem_connection_selected_tunnel", "tandem_failovers_total",
            "tandem_probe_rtt_seconds_bucket", "tandem_tunnel_packets_total", "tandem_dropped_packets_total",
        ] {
            #expect(used.contains(name), "the dashboard does not show \(name)")
        }
    }

    @Test func panelsUseTheDatasourceVariableAndHaveDistinctIds() throws {
        let dashboard = try Self.dashboard()
        #expect((dashboard["schemaVersion"] as? Int ?? 0) >= 36)
        let variables = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        #expect(variables.contains { $0["name"] as? String == "datasource" && $0["query"] as? String == "prometheus" })
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let ids = panels.compactMap { $0["id"] as? Int }
        #expect(ids.count == panels.count && Set(ids).count == ids.count)
        for panel in panels where panel["type"] as? String != "row" {
            let source = panel["datasource"] as? [String: Any]
            #expect(source?["uid"] as? String == "${datasource}", "panel \(panel["title"] ?? "?")")
            #expect(!(panel["targets"] as? [Any] ?? []).isEmpty, "panel \(panel["title"] ?? "?") has no query")
        }
    }
}
