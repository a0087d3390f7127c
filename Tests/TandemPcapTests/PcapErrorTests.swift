import Testing
import TandemPcap

@Suite struct PcapErrorTests {
    @Test func errorsNameOperationFileAndReason() {
        let error = PcapError(operation: "opening", path: "in.pcap", reason: "No such file or directory")
        #expect(error.description == "opening in.pcap: No such file or directory")
    }
}
