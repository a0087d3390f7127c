import Foundation
import TandemConfig
import Testing

/// Problems of the file and its YAML: syntax, duplicate keys, unknown keys, types, missing keys.
@Suite struct ConfigSyntaxTests {
    @Test func yamlSyntaxErrorHasItsPlace() {
        let yaml = """
            gateway:
              name: site-a
             tunnels:
              - name: a1
            """
        Check.onlyError(yaml, at: 3, 2, "YAML syntax error: did not find expected key")
    }

    @Test func tabIndentationSaysWhy() {
        Check.onlyError("gateway:\n\tname: x\n", at: 2, 1, "YAML syntax error", "tabs")
    }

    @Test func unclosedFlowMapping() {
        Check.onlyError("gateway: {name: x\n", at: 2, 1, "did not find expected ',' or '}'")
    }

    @Test func duplicateKeyNamesTheKeyAndBothLines() {
        let yaml = """
            gateway:
              name: site-a
              name: site-b
            """
        Check.exactError(
            yaml, at: 3, 3, "duplicate key 'name' (first at line 2); a key may appear only once, remove one of them")
    }

    @Test func everyDuplicateKeyIsReportedAndTheRestIsStillChecked() {
        let yaml = """
            gateway:
              name: site-a
            tunnels:
              - name: a1
                device: tnd-a1
                peer: 198.18.10.1
                mtu: 1400
                "mtu": 1500
                health-check: {source: 198.18.0.1, destination: 198.18.10.1, source: 198.18.0.2, interval: 2x}
            gateway:
              mode: kernel
            """
        let found = Check.errors(yaml)
        #expect(found.map(\.line) == [8, 9, 9, 10])
        #expect(found[0].message.hasPrefix("duplicate key 'mtu' (first at line 7)"))
        #expect(found[0].column == 6)
        // In a flow mapping the second key is on the same line; columns after it are those of the file.
        #expect(found[1].message.hasPrefix("duplicate key 'source' (first at line 9)"))
        #expect(found[1].column == 66)
        #expect(found[2].message.contains("'interval' must be a duration"))
        #expect(found[2].column == 96)
        #expect(found[3].message.hasPrefix("duplicate key 'gateway' (first at line 1)"))
        #expect(found[3].column == 1)
    }

    @Test func duplicateKeysAreFoundInFilesWithCRLFAndCRLineBreaks() {
        // libyaml breaks lines at CR LF and at a lone CR too; the duplicate search must count lines as it does.
        let crlf = Check.errors("gateway: {name: a}\r\nroutes: []\r\nroutes: []\r\n")
        #expect(
            crlf.contains {
                $0.line == 3 && $0.column == 1 && $0.message.hasPrefix("duplicate key 'routes' (first at line 2)")
            }, "\(crlf)")
        // Found by the ConfigYAML fuzz target (Fuzz/Corpus/ConfigYAML/crash-cr-line-break): the rename went to the
        // wrong line and the next diagnostic on it came out at column -12.
        let cr = Check.diagnostics("\rroutes:\n 0\nroutes:")
        #expect(cr.allSatisfy { $0.column >= 0 }, "\(cr)")
        #expect(cr.contains { $0.line == 4 && $0.column == 1 && $0.message.hasPrefix("duplicate key 'routes'") }, "\(cr)")
    }

    @Test func unknownTopLevelKeySuggestsTheNearest() {
        let yaml = """
            gateway:
              name: site-a
            tunels: []
            """
        Check.exactError(yaml, at: 3, 1, "unknown key 'tunels' in the top level; did you mean 'tunnels'?")
    }

    @Test func unknownNestedKeyNamesItsItem() {
        let yaml =
            header + """
                routes:
                  - prefix: 198.19.0.0/16
                    conection: c1
                """
        Check.onlyError(yaml, at: 17, 5, "unknown key 'conection' in route 198.19.0.0/16; did you mean 'connection'?")
    }

    @Test func unknownKeyWithoutANearOneHasNoSuggestion() {
        let yaml = """
            gateway:
              name: site-a
              colour: blue
            """
        Check.exactError(yaml, at: 3, 3, "unknown key 'colour' in 'gateway'")
    }

    @Test func wrongTypeNamesKeyAndValue() {
        let yaml = """
            gateway:
              name: site-a
            tunnels:
              - name: a1
                device: tnd-a1
                peer: 198.18.10.1
                mtu: big
            """
        Check.exactError(yaml, at: 7, 10, "'mtu' must be an integer, got 'big'")
    }

    @Test func aListWhereAMappingBelongs() {
        let yaml = """
            gateway:
              - name: site-a
            """
        Check.onlyError(yaml, at: 2, 3, "'gateway' must be a mapping of keys to values, got a list")
    }

    @Test func aMappingWhereAListBelongs() {
        let yaml = """
            gateway:
              name: site-a
            tunnels:
              name: a1
            """
        Check.exactError(yaml, at: 4, 3, "'tunnels' must be a list, got a mapping")
    }

    @Test func wrongBooleanAndChoice() {
        let yaml = """
            gateway:
              name: site-a
              mode: userpace
            ecmp:
              symmetric: yes
            """
        let found = Check.errors(yaml)
        #expect(
            found.map(\.description) == [
                "gw.yaml:3:9: error: 'mode' must be userspace or kernel, got 'userpace'; did you mean 'userspace'?",
                "gw.yaml:5:14: error: 'symmetric' must be true or false, got 'yes'",
            ])
    }

    @Test func missingRequiredKeyPointsAtTheItem() {
        let yaml = """
            gateway:
              name: site-a
            tunnels:
              - name: a1
                device: tnd-a1
            """
        Check.exactError(yaml, at: 4, 5, "missing required key 'peer' in tunnel 'a1'")
    }

    @Test func missingGatewaySection() {
        Check.onlyError("tunnels: []\n", at: 1, 1, "missing required key 'gateway' in the top level")
    }

    @Test func emptyFileAndNonMappingTop() {
        #expect(
            Check.errors("").map(\.description) == [
                "gw.yaml: error: the file is empty; a configuration needs at least a 'gateway' section with a 'name'"
            ])
        Check.onlyError("- a\n- b\n", at: 1, 1, "the top level must be a mapping")
    }

    @Test func missingFileGivesOneDiagnosticWithErrnoText() {
        let path = NSTemporaryDirectory() + "/tandem-no-such-\(UInt32.random(in: 0...UInt32.max)).yaml"
        #expect(throws: ConfigErrors.self) { try GatewayConfig.load(path: path) }
        do {
            _ = try GatewayConfig.load(path: path)
        } catch {
            #expect(
                error.diagnostics.map(\.description) == [
                    "\(path): error: cannot read '\(path)': No such file or directory"
                ])
        }
    }

    @Test func directoryIsNotAFile() {
        do {
            _ = try GatewayConfig.load(path: "/")
            Issue.record("a directory loaded")
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics[0].message.hasSuffix("Is a directory"))
        }
    }

    /// /dev/zero never ends: read without a bound, it would take the router's memory (issue 13). It is refused
    /// after the limit, with the reason, and so is a text over the limit.
    @Test func aFileWithoutEndIsRefusedAtTheSizeLimit() {
        do {
            _ = try GatewayConfig.load(path: "/dev/zero")
            Issue.record("/dev/zero loaded")
        } catch {
            #expect(error.diagnostics.map(\.message) == [
                "cannot read '/dev/zero': it is larger than 16 MiB, the most Tandem reads as a configuration; "
                    + "check that this is the gateway's file"
            ])
        }
        let text = header + "#" + String(repeating: "x", count: 16 << 20) + "\n"
        #expect(throws: ConfigErrors.self) { try GatewayConfig.parse(yaml: text, file: "big.yaml") }
    }

    @Test func invalidUTF8NamesTheLine() throws {
        let path = NSTemporaryDirectory() + "/tandem-utf8-\(UInt32.random(in: 0...UInt32.max)).yaml"
        let bytes: [UInt8] = Array("gateway:\n  name: \"x".utf8) + [0xFF] + Array("\"\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try GatewayConfig.load(path: path)
            Issue.record("invalid UTF-8 loaded")
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics[0].line == 2)
            #expect(error.diagnostics[0].message.contains("not valid UTF-8"))
        }
    }

    @Test func loadReadsAFileAndNamesItInLocations() throws {
        let path = NSTemporaryDirectory() + "/tandem-ok-\(UInt32.random(in: 0...UInt32.max)).yaml"
        try Data(header.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try GatewayConfig.load(path: path)
        #expect(config.tunnels[1].location(of: "device").description == "\(path):8:13")
    }
}
