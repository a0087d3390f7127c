import Testing
import TandemConfig

@Suite struct ConfigDiagnosticTests {
    @Test func printsLikeACompiler() {
        let full = ConfigDiagnostic(file: "gw.yaml", line: 12, column: 5, message: "unknown key 'tunels'")
        #expect(full.description == "gw.yaml:12:5: error: unknown key 'tunels'")
        let wholeFile = ConfigDiagnostic(file: "gw.yaml", line: 0, column: 0, message: "empty file")
        #expect(wholeFile.description == "gw.yaml: error: empty file")
    }
}
