import Foundation
import TandemConfig
import Testing

/// BIRD 2 itself, if installed, in its parse-only mode (`bird -p -c FILE`): it must accept every configuration
/// `tandem bird-config` writes. tools/test installs bird2; under CI=true a missing BIRD fails the test rather than
/// leaving it out.
enum Bird {
    /// The executable, found on the PATH or in /usr/sbin (where Debian puts it).
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return (directories + ["/usr/sbin", "/usr/local/sbin", "/sbin"]).map { $0 + "/bird" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Whether a missing BIRD must fail the test (CI=true) instead of disabling it.
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"

    /// Runs `bird -p -c FILE`: parses the configuration and exits, starting nothing. Returns the exit status and
    /// what it printed.
    static func parse(_ file: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(path, "bird is not installed: apt-get install bird2"))
        process.arguments = ["-p", "-c", file]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

@Suite(
    .enabled(
        if: Bird.path != nil || Bird.required,
        "bird is not installed: apt-get install bird2 (tools/test does; under CI=true this test fails without it)"))
struct BirdParseTests {
    /// Gateway files: `tunnels` BGP tunnels (the first `bfdTunnels` with BFD), IPv4 and maybe IPv6 advertised.
    static func gateway(tunnels: Int, bfdTunnels: Int, ipv6: Bool, quota: Int = 50) -> String {
        var yaml = "gateway: {name: site-a, local-asn: 65000}\nlimits: {dynamic-routes: \(quota)}\ntunnels:\n"
        for index in 0..<tunnels {
            let bfd = index < bfdTunnels ? ", bfd: true" : ""
            yaml += """
                  - name: bgp-\(index).z
                    device: tnd-b\(index)
                    interface: vti-b\(index)
                    peer: 198.18.\(30 + index).1
                    routing: bgp
                    bgp: {inside-cidr: 169.254.10.\(index * 4)/30, peer-asn: \(65100 + index)\(bfd)}

                """
        }
        yaml += "connections:\n"
        for index in 0..<tunnels { yaml += "  - {name: c\(index), tunnels: [bgp-\(index).z]}\n" }
        yaml += "advertise:\n  - 198.18.0.0/24\n  - 198.18.2.0/23\n"
        if ipv6 { yaml += "  - 2001:db8:100::/48\n" }
        return yaml + "learning: {table: 100}\n"
    }

    static let cases: [(name: String, yaml: String)] = [
        ("1 tunnel, IPv4, no BFD", gateway(tunnels: 1, bfdTunnels: 0, ipv6: false)),
        ("1 tunnel, IPv6 too, BFD", gateway(tunnels: 1, bfdTunnels: 1, ipv6: true)),
        ("2 tunnels, IPv4, BFD on one", gateway(tunnels: 2, bfdTunnels: 1, ipv6: false)),
        ("2 tunnels, IPv6 too, no BFD", gateway(tunnels: 2, bfdTunnels: 0, ipv6: true)),
        ("2 tunnels, IPv6 too, BFD on both", gateway(tunnels: 2, bfdTunnels: 2, ipv6: true)),
        ("2 tunnels, quota 0", gateway(tunnels: 2, bfdTunnels: 0, ipv6: false, quota: 0)),
    ]

    @Test(arguments: cases.indices)
    func birdAcceptsWhatIsWritten(index: Int) throws {
        let (name, yaml) = Self.cases[index]
        let config = try GatewayConfig.parse(yaml: yaml, file: "gw.yaml")
        #expect(config.warnings.isEmpty, "\(name): \(config.warnings.map(\.description))")
        try check(config.birdConfiguration(file: "gw.yaml"), name: name)
    }

    @Test func birdAcceptsTheExampleGateway() throws {
        let path = Check.repositoryRoot + "/examples/bgp-gateway.yaml"
        let text = try GatewayConfig.load(path: path).birdConfiguration(file: path)
        #expect(text.contains("protocol bgp tunnel_b1 {") && text.contains("protocol bgp tunnel_b2 {"))
        try check(text, name: "examples/bgp-gateway.yaml")
    }

    /// BIRD's parser is not lenient: a configuration it must refuse is refused, so an accepted one means something.
    @Test func birdRefusesABrokenConfiguration() throws {
        let config = try GatewayConfig.parse(
            yaml: Self.gateway(tunnels: 1, bfdTunnels: 0, ipv6: false), file: "gw.yaml")
        let broken = try config.birdConfiguration(file: "gw.yaml").replacing("learn off;", with: "lern off;")
        try withBirdFile(broken) { file in
            let result = try Bird.parse(file)
            #expect(result.status != 0, "bird accepted a broken configuration: \(result.output)")
        }
    }

    private func check(_ text: String, name: String) throws {
        try withBirdFile(text) { file in
            let result = try Bird.parse(file)
            #expect(result.status == 0, "bird -p refused the configuration of \(name): \(result.output)\n\(text)")
        }
    }

    /// Writes `text` to bird.conf in a directory of its own, removed afterwards.
    private func withBirdFile(_ text: String, _ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tandem-bird-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bird.conf").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        try body(file)
    }
}
