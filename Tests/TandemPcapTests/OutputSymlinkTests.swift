import Foundation
import Testing
import TandemPcap

/// Replay outputs are not written through symbolic links (issue 13): `tandem replay` runs as root on routers, and a
/// link planted where a capture, the drops file or the report page goes would truncate the file it points at.
@Suite struct OutputSymlinkTests {
    /// A file that must survive, and a link to it where an output goes.
    static func plantLink(in directory: String, named name: String) throws -> (link: String, victim: String) {
        let victim = directory + "/victim"
        try "keep me\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let link = directory + "/" + name
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        return (link, victim)
    }

    @Test func aPcapWriterRefusesALinkAndLeavesItsTargetAlone() throws {
        try withTemporaryDirectory { directory in
            let (link, victim) = try Self.plantLink(in: directory, named: "out.pcap")
            #expect {
                _ = try PcapWriter(path: link)
            } throws: { error in
                "\(error)".contains("symbolic link") && "\(error)".contains(link)
            }
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me\n")
        }
    }

    @Test func aReplayRefusesALinkInItsOutputDirectoryAndLeavesItsTargetAlone() throws {
        try withTemporaryDirectory { directory in
            let capture = directory + "/in.pcap"
            try ReplayTests.writeCapture(capture, count: 100)
            let outputs = directory + "/out"
            try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: false)
            let (_, victim) = try Self.plantLink(in: outputs, named: "a1.pcap")
            let replayer = Replayer(
                settings: ReplaySettings(capture: capture, outputDirectory: outputs), gateway: try ReplayTests.gateway())
            #expect(throws: ReplayError.self) { try replayer.run() }
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me\n")
        }
    }

    @Test func theReportPageRefusesALinkAndLeavesItsTargetAlone() throws {
        try withTemporaryDirectory { directory in
            let capture = directory + "/in.pcap"
            try ReplayTests.writeCapture(capture, count: 100)
            let report = try Replayer(settings: ReplaySettings(capture: capture), gateway: try ReplayTests.gateway()).run()
            let (link, victim) = try Self.plantLink(in: directory, named: "report.html")
            let page = ReplayPage(
                report: report, inputs: ReplayPage.Inputs(configuration: "test", capture: capture, events: nil))
            #expect(throws: PcapError.self) { try page.write(to: link) }
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me\n")
        }
    }
}
