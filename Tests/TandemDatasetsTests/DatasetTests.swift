import Foundation
import Testing
import TandemDatasets
import TandemPacket

@Suite("Table and trace files")
struct DatasetTests {
    /// A scratch file that disappears after the test.
    func withFile(_ contents: String, gzip: Bool = false, _ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("table.txt").path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        if gzip {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/gzip")
            process.arguments = [path]
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            try body(path + ".gz")
        } else {
            try body(path)
        }
    }

    static let table = "# comment\r\n198.18.0.0/15\r\n\r\n  198.18.4.0/24  \n2001:db8::/32\r\n10.1.2.3/8\n2001:db8::1/128"

    @Test("CRLF and LF, comments, blanks, host bits, both families", arguments: [false, true])
    func loadsTable(gzip: Bool) throws {
        try withFile(Self.table, gzip: gzip) { path in
            let data = try RouteTableData.load(path: path)
            #expect(data.ipv4.map(\.description) == ["198.18.0.0/15", "198.18.4.0/24", "10.0.0.0/8"])
            #expect(data.ipv6.map(\.description) == ["2001:db8::/32", "2001:db8::1/128"])
            #expect(data.normalized == 1)
            #expect(data.skippedLines == 2)
        }
    }

    @Test("A bad line names the file, the line and the expected form")
    func badLine() throws {
        try withFile("198.18.0.0/15\n198.18.0.0/33\n") { path in
            #expect {
                try RouteTableData.load(path: path)
            } throws: { error in
                let text = "\(error)"
                return text.hasPrefix("\(path):2: '198.18.0.0/33' is not a prefix") && text.contains("198.18.0.0/15 or 2001:db8::/32")
            }
        }
        try withFile("198.18.0.0\n") { path in
            #expect(throws: DatasetError.self) { try RouteTableData.load(path: path) }
        }
        #expect(throws: DatasetError.self) { try RouteTableData.load(path: "/nonexistent/table.txt") }
    }

    @Test("Update trace lines; bad ones are errors with file and line")
    func updateTrace() throws {
        try withFile("1418774413 w 202.70.88.0/21 0.0.0.0\r\n1418774413 a 206.152.15.0/24 195.66.226.74\n") { path in
            let trace = try UpdateTrace.load(path: path)
            #expect(trace.updates.count == 2)
            #expect(trace.updates[0].kind == .withdraw)
            #expect(trace.updates[1].prefix.description == "206.152.15.0/24")
            #expect(trace.updates[1].nextHop == IPv4Address(195, 66, 226, 74))
        }
        try withFile("1418774413 x 202.70.88.0/21 0.0.0.0\n") { path in
            #expect {
                try UpdateTrace.load(path: path)
            } throws: { "\($0)".contains(":1: kind is neither 'a' nor 'w'") }
        }
    }

    @Test("A generated trace written as lines (tandem gen-updates) reads back as the same updates")
    func generatedTraceRoundTrip() throws {
        let table = SyntheticTable.generate(seed: 1, scale: 0.001, reason: "test").ipv4
        let trace = UpdateTrace.synthesize(over: table, count: 500, seed: 7, reason: "test")
        #expect(trace.updates.contains { $0.kind == .withdraw } && trace.updates.contains { $0.kind == .announce })
        try withFile(trace.updates.map(\.line).joined(separator: "\n") + "\n") { path in
            let loaded = try UpdateTrace.load(path: path)
            #expect(loaded.updates == trace.updates)
        }
    }

    @Test("The synthetic table has the 2024 table's prefix-length mix")
    func syntheticMix() throws {
        let data = SyntheticTable.generate(seed: 1, scale: 0.05, reason: "test")
        var v4 = [Int: Int]()
        for prefix in data.ipv4 { v4[prefix.length, default: 0] += 1 }
        for (length, count) in SyntheticTable.ipv4LengthMix {
            #expect(v4[length] == max(1, Int((Double(count) * 0.05).rounded())), "/\(length)")
        }
        #expect(Set(data.ipv4).count == data.ipv4.count)
        #expect(data.ipv4.allSatisfy { SyntheticTable.isPublicIPv4($0) })
        let covering = try IPv4Prefix("198.0.0.0/8")
        let inside = try IPv4Prefix("198.19.1.0/24")
        let clear = try IPv4Prefix("198.20.0.0/16")
        #expect(!SyntheticTable.isPublicIPv4(covering) && !SyntheticTable.isPublicIPv4(inside))
        #expect(SyntheticTable.isPublicIPv4(clear))
        #expect(data.ipv6.allSatisfy { $0.address.rawValue >> 125 == 1 })
        let again = SyntheticTable.generate(seed: 1, scale: 0.05, reason: "test")
        #expect(again.ipv4 == data.ipv4 && again.ipv6 == data.ipv6)
    }

    @Test("Sampled addresses fall inside the prefixes they were drawn from")
    func samples() throws {
        let prefixes = [try IPv4Prefix("198.18.0.0/15"), try IPv4Prefix("198.18.4.0/24")]
        let addresses = AddressSamples.inside(prefixes, count: 1000, seed: 3)
        #expect(addresses.allSatisfy { address in prefixes.contains { $0.contains(address) } })
        #expect(Set(addresses).count > 600)  // half come from a /24: at most 256 distinct there
        #expect(AddressSamples.uniformIPv6GlobalUnicast(count: 100, seed: 1).allSatisfy { $0.rawValue >> 125 == 1 })
    }
}
