import Foundation
import TandemConfig
import Testing

/// What `tandem bird-config` writes, run by a real BIRD against two BIRD peers (the customer gateways), each in a
/// network namespace of the test's own over a veth pair carrying a tunnel's inside /30: the sessions come up, the
/// learned routes reach the learning table as one multipath route, a default route is refused, the import limit
/// blocks without dropping the session, and each peer receives the advertised prefix and never the other peer's
/// routes. Addresses: the inside /30s (169.254.10.0/30, 169.254.10.4/30) and prefixes in 198.18.0.0/15, all
/// inside the test's namespaces; the namespaces and the BIRD processes are removed when the test ends.
@Suite(
    .serialized,
    .enabled(
        if: getuid() == 0 && (Bird.path != nil || Bird.required),
        "needs root to make network namespaces, and bird (apt-get install bird2; tools/test runs as root in CI)"))
struct BirdSessionTests {
    static let gateway = """
        gateway: {name: site-a, local-asn: 65000}
        limits: {dynamic-routes: 3}
        tunnels:
          - name: b1
            device: tnd-b1
            interface: vti-b1
            peer: 198.18.30.1
            routing: bgp
            bgp: {inside-cidr: 169.254.10.0/30, peer-asn: 65100, bfd: true}
          - name: b2
            device: tnd-b2
            interface: vti-b2
            peer: 198.18.31.1
            routing: bgp
            bgp: {inside-cidr: 169.254.10.4/30, peer-asn: 65200}
        connections:
          - {name: c1, tunnels: [b1]}
          - {name: c2, tunnels: [b2]}
        advertise: [198.18.0.0/24, 2001:db8:100::/48]
        learning: {table: 100}
        """

    /// A customer gateway announcing `routes` (as unreachable static routes) to the gateway at `gateway`, and
    /// `routes6` over an IPv6 channel with extended next hops (the session is IPv4).
    static func peer(
        local: String, gateway: String, asn: Int, routes: [String], routes6: [String] = ["2001:db8:200::/48"],
        bfd: Bool
    ) -> String {
        func statics(_ prefixes: [String]) -> String {
            prefixes.map { "route \($0) unreachable;" }.joined(separator: " ")
        }
        return """
            router id \(local);
            protocol device {}
            \(bfd ? "protocol bfd {}" : "")
            protocol static announced { ipv4; \(statics(routes)) }
            protocol static announced6 { ipv6; \(statics(routes6)) }
            protocol bgp upstream {
              local \(local) as \(asn);
              neighbor \(gateway) as 65000;
              \(bfd ? "bfd on;" : "")
              ipv4 { import all; export all; };
              ipv6 { extended next hop on; import all; export all; };
            }
            """
    }

    @Test func sessionsLearnOneMultipathRouteRefuseTheDefaultAndAnnounceOnlyTheAdvertisedPrefix() throws {
        let text = try GatewayConfig.parse(yaml: Self.gateway, file: "gw.yaml").birdConfiguration(file: "gw.yaml")
        let lab = try BirdLab()
        defer { lab.remove() }
        try lab.link(gateway: "vti-b1", "169.254.10.1/30", zone: lab.zoneA, "up1", "169.254.10.2/30")
        try lab.link(gateway: "vti-b2", "169.254.10.5/30", zone: lab.zoneB, "up2", "169.254.10.6/30")
        try lab.start("gw", in: lab.gateway, configuration: text)
        try lab.start(
            "a", in: lab.zoneA,
            configuration: Self.peer(
                local: "169.254.10.2", gateway: "169.254.10.1", asn: 65100,
                routes: ["198.19.0.0/16", "198.19.1.0/24", "0.0.0.0/0"], routes6: ["2001:db8:200::/48", "::/0"],
                bfd: true))
        let zoneBRoutes = ["198.19.0.0/16", "198.19.5.0/24"]
        try lab.start(
            "b", in: lab.zoneB,
            configuration: Self.peer(
                local: "169.254.10.6", gateway: "169.254.10.5", asn: 65200, routes: zoneBRoutes, bfd: false))

        // Both sessions up, and the /16 both peers announce is one route over both tunnels in table 100.
        let established = lab.waitFor(seconds: 30) {
            let protocols = (try? lab.birdc("gw", ["show", "protocols"])) ?? ""
            return protocols.components(separatedBy: "Established").count == 3
        }
        #expect(established, "\((try? lab.birdc("gw", ["show", "protocols", "all"])) ?? "")")
        let merged = lab.waitFor(seconds: 15) {
            let table = (try? lab.ip(["-n", lab.gateway, "route", "show", "table", "100"])) ?? ""
            return table.contains("nexthop via 169.254.10.2 dev vti-b1")
                && table.contains("nexthop via 169.254.10.6 dev vti-b2")
        }
        let table = try lab.ip(["-n", lab.gateway, "route", "show", "table", "100"])
        #expect(merged, "table 100:\n\(table)")
        #expect(table.contains("198.19.0.0/16 proto bird"), "table 100:\n\(table)")
        #expect(table.contains("198.19.1.0/24 via 169.254.10.2 dev vti-b1 proto bird"), "table 100:\n\(table)")
        #expect(table.contains("198.19.5.0/24 via 169.254.10.6 dev vti-b2 proto bird"), "table 100:\n\(table)")
        #expect(!table.contains("default"), "a default route was learned:\n\(table)")
        // IPv6 routes come with IPv4 next hops (extended next hop), which Linux cannot install: the route goes out of
        // the interface of the session BIRD prefers, a tunnel's interface; ::/0 is refused.
        let learned6 = lab.waitFor(seconds: 15) {
            ((try? lab.ip(["-n", lab.gateway, "-6", "route", "show", "table", "100"])) ?? "").contains(
                "2001:db8:200::/48")
        }
        let table6 = (try? lab.ip(["-n", lab.gateway, "-6", "route", "show", "table", "100"])) ?? ""
        #expect(learned6, "IPv6 table 100:\n\(table6)")
        #expect(
            table6.contains("2001:db8:200::/48 dev vti-b1 proto bird")
                || table6.contains("2001:db8:200::/48 dev vti-b2 proto bird"), "IPv6 table 100:\n\(table6)")
        #expect(!table6.contains("default"), "a default route was learned:\n\(table6)")

        // The advertised prefix originates in BIRD only: no kernel table of the gateway has it.
        let all = try lab.ip(["-n", lab.gateway, "route", "show", "table", "all"])
        let all6 = try lab.ip(["-n", lab.gateway, "-6", "route", "show", "table", "all"])
        #expect(!all.contains("198.18.0.0/24"), "the advertised prefix reached the kernel:\n\(all)")
        #expect(!all6.contains("2001:db8:100::/48"), "the advertised prefix reached the kernel:\n\(all6)")

        // Each peer gets the advertised prefix, and never the other peer's routes.
        let announced = lab.waitFor(seconds: 15) {
            ["a", "b"].allSatisfy {
                let routes = (try? lab.birdc($0, ["show", "route"])) ?? ""
                return routes.contains("198.18.0.0/24") && routes.contains("2001:db8:100::/48")
            }
        }
        let zoneA = try lab.birdc("a", ["show", "route"])
        let zoneB = try lab.birdc("b", ["show", "route"])
        #expect(announced, "zone a:\n\(zoneA)\nzone b:\n\(zoneB)")
        #expect(!zoneA.contains("198.19.5.0/24"), "zone b's route was announced to zone a:\n\(zoneA)")
        #expect(
            !zoneB.contains("198.19.1.0/24") && !zoneB.contains("0.0.0.0/0"), "zone a's routes reached b:\n\(zoneB)")

        // Past the import limit (3) the further routes are dropped and the session stays up.
        try lab.reconfigure(
            "b",
            configuration: Self.peer(
                local: "169.254.10.6", gateway: "169.254.10.5", asn: 65200,
                routes: zoneBRoutes + ["198.19.6.0/24", "198.19.7.0/24"], bfd: false))
        let hit = lab.waitFor(seconds: 15) {
            ((try? lab.birdc("gw", ["show", "protocols", "all", "tunnel_b2"])) ?? "").contains("[HIT]")
        }
        let b2 = try lab.birdc("gw", ["show", "protocols", "all", "tunnel_b2"])
        #expect(hit, "tunnel_b2:\n\(b2)")
        #expect(b2.contains("Established") && b2.contains("3 imported"), "tunnel_b2:\n\(b2)")
    }
}

/// Three namespaces (the gateway and two zones) with BIRD in each, removed by ``remove()``.
final class BirdLab {
    let gateway: String
    let zoneA: String
    let zoneB: String
    let directory: String
    private var birds: [Process] = []
    private let birdPath: String
    private let birdcPath: String

    init() throws {
        birdPath = try #require(Bird.path, "bird is not installed: apt-get install bird2")
        birdcPath = (birdPath as NSString).deletingLastPathComponent + "/birdc"
        let tag = "tbc\(getpid() % 100_000)"
        (gateway, zoneA, zoneB) = (tag + "-gw", tag + "-za", tag + "-zb")
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("tandem-bird-lab-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var made: [String] = []
        do {
            for namespace in [gateway, zoneA, zoneB] {
                try ip(["netns", "add", namespace])
                made.append(namespace)
                try ip(["-n", namespace, "link", "set", "lo", "up"])
            }
        } catch {
            for namespace in made { _ = try? ip(["netns", "del", namespace]) }
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// A veth pair from the gateway to a zone, an inside address on each end.
    func link(gateway device: String, _ address: String, zone: String, _ peerDevice: String, _ peerAddress: String)
        throws
    {
        try ip(["-n", gateway, "link", "add", device, "type", "veth", "peer", "name", peerDevice, "netns", zone])
        try ip(["-n", gateway, "addr", "add", address, "dev", device])
        try ip(["-n", gateway, "link", "set", device, "up"])
        try ip(["-n", zone, "addr", "add", peerAddress, "dev", peerDevice])
        try ip(["-n", zone, "link", "set", peerDevice, "up"])
    }

    /// Starts BIRD named `name` in `namespace` with a configuration, in the foreground (`-f`): `ip netns exec`
    /// execs it, so the process is BIRD itself and is stopped by its pid.
    func start(_ name: String, in namespace: String, configuration: String) throws {
        let file = directory + "/\(name).conf"
        try configuration.write(toFile: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, birdPath, "-f", "-c", file, "-s", socket(name)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        birds.append(process)
        let listening = waitFor(seconds: 10) { FileManager.default.fileExists(atPath: socket(name)) }
        guard listening, process.isRunning else {
            throw LabError(description: "bird \(name) did not start (bird -p -c \(file) says why)")
        }
    }

    /// Replaces BIRD `name`'s configuration and has it read it again.
    func reconfigure(_ name: String, configuration: String) throws {
        try configuration.write(toFile: directory + "/\(name).conf", atomically: true, encoding: .utf8)
        try birdc(name, ["configure"])
    }

    @discardableResult
    func birdc(_ name: String, _ arguments: [String]) throws -> String {
        try Self.run(birdcPath, ["-s", socket(name)] + arguments)
    }

    @discardableResult
    func ip(_ arguments: [String]) throws -> String { try Self.run("/usr/sbin/ip", arguments) }

    func socket(_ name: String) -> String { directory + "/\(name).ctl" }

    /// Polls `condition` every 200 ms until it holds or `seconds` pass.
    func waitFor(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(200_000)
        }
        return condition()
    }

    /// Stops each BIRD by its pid (SIGTERM, SIGKILL after 2 s), then removes the namespaces (and so the veth pairs)
    /// and the directory.
    func remove() {
        for bird in birds where bird.isRunning {
            bird.terminate()
            _ = waitFor(seconds: 2) { !bird.isRunning }
            if bird.isRunning { kill(bird.processIdentifier, SIGKILL) }
            bird.waitUntilExit()
        }
        for namespace in [gateway, zoneA, zoneB] { _ = try? ip(["netns", "del", namespace]) }
        try? FileManager.default.removeItem(atPath: directory)
        let left = (try? ip(["netns", "list"])) ?? ""
        #expect(![gateway, zoneA, zoneB].contains { left.contains($0) }, "namespaces left behind:\n\(left)")
    }

    /// Runs a program to its end; returns its output, throws with its error output if it fails.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LabError(description: "\(executable) \(arguments.joined(separator: " ")): \(text)")
        }
        return text
    }

    struct LabError: Error, CustomStringConvertible {
        let description: String
    }
}
