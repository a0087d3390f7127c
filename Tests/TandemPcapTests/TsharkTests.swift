import Foundation
import TandemPacket
import TandemPcap
import Testing

/// tshark, if installed: Wireshark's reading of the files PcapWriter writes.
enum Tshark {
    /// The executable, found on the PATH (or in /usr/bin).
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return (directories + ["/usr/bin", "/usr/local/bin"]).map { $0 + "/tshark" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// What a run printed and how it ended.
    struct Run {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs tshark with arguments, collecting its output.
    static func run(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(path))
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // tshark's messages are short: reading the output first cannot block on a full error pipe.
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
            errors: String(decoding: errorData, as: UTF8.self))
    }

    /// Error output without the warning tshark prints when it runs as root (as the test script does).
    static func unexpectedErrors(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter { !$0.contains("Running as user \"root\"") && !$0.isEmpty }
    }
}

@Suite struct TsharkTests {
    @Test(
        .enabled(
            if: Tshark.path != nil,
            "tshark is not installed: DEBIAN_FRONTEND=noninteractive apt-get install -y tshark (tools/test does)"))
    func tsharkReadsTheWrittenFileWithoutWarnings() throws {
        // The fixtures' checksums are right by TandemPacket's own reading, before tshark's.
        TestPackets.ipv4UDP.withUnsafeBytes { #expect((try? IPv4Header($0))?.isChecksumValid == true) }

        try withTemporaryDirectory { directory in
            let path = directory + "/tshark.pcap"
            let writer = try PcapWriter(path: path)
            try TestPackets.ipv4UDP.withUnsafeBytes { try writer.write($0, timestamp: 1_700_000_000_123_456_789) }
            try TestPackets.ipv6TCP.withUnsafeBytes { try writer.write($0, timestamp: 1_700_000_000_223_456_789) }
            try writer.close()

            let checks = [
                "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
            ]
            // Expert messages per frame: none may appear.
            let fields = try Tshark.run(
                ["-n", "-r", path] + checks + ["-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"])
            #expect(fields.status == 0, "tshark exited with \(fields.status): \(fields.errors)")
            #expect(Tshark.unexpectedErrors(fields.errors).isEmpty, "tshark wrote errors: \(fields.errors)")
            #expect(fields.output == "1\t\n2\t\n", "tshark reported expert messages:\n\(fields.output)")

            // The full dissection: both packets decoded, every checksum verified good, nothing bad or malformed.
            let verbose = try Tshark.run(["-n", "-r", path] + checks + ["-V"])
            let text = verbose.output
            #expect(verbose.status == 0, "tshark exited with \(verbose.status): \(verbose.errors)")
            #expect(Tshark.unexpectedErrors(verbose.errors).isEmpty, "tshark wrote errors: \(verbose.errors)")
            for warning in ["Bad", "Malformed", "appears to be damaged", "Expert Info (Warning", "Expert Info (Error"] {
                #expect(!text.contains(warning), "tshark's dissection contains \"\(warning)\":\n\(text)")
            }
            #expect(text.contains("Epoch Time: 1700000000.123456789 seconds"), "\(text)")
            #expect(text.contains("Internet Protocol Version 4, Src: 198.18.0.1, Dst: 198.19.0.1"), "\(text)")
            #expect(text.contains("User Datagram Protocol, Src Port: 49152, Dst Port: 49153"), "\(text)")
            #expect(text.contains("Internet Protocol Version 6, Src: 2001:db8::1, Dst: 2001:db8::2"), "\(text)")
            #expect(text.contains("Transmission Control Protocol, Src Port: 49152, Dst Port: 49153"), "\(text)")
            // IPv4 header, UDP and TCP checksums: each verified and good ("[Header checksum status: Good]" for IPv4).
            let good = text.lowercased().components(separatedBy: "checksum status: good]").count - 1
            #expect(good == 3, "expected 3 good checksums, tshark verified \(good):\n\(text)")
        }
    }
}
