import TandemConfig
import TandemPacket
import Testing

/// Kernel mode at parity, or refused: what `gateway.mode: kernel` cannot honour is an error at its key with the fix.
@Suite("kernel mode: refused where it cannot honour the file")
struct ConfigKernelModeTests {
    /// Two single-tunnel connections in kernel mode; 11 lines, so whatever is appended starts on line 12.
    static let kernelMode = """
        gateway: {name: gw, mode: kernel}
        tunnels:
          - {name: a1, device: tnd-a1, interface: gw-a, peer: 198.18.10.1}
          - {name: a2, device: tnd-a2, interface: gw-b, peer: 198.18.20.1}
        connections:
          - {name: c1, tunnels: [a1]}
          - {name: c2, tunnels: [a2]}
        routes:
          - {prefix: 198.19.0.0/16, connection: c1}
          - {prefix: 2001:db8:100::/48, connection: c1}
        policy-routes:

        """

    static let withSeed = KernelFeatures(multipathHashSeed: true)
    static let withoutSeed = KernelFeatures(multipathHashSeed: false)

    static func errors(_ yaml: String, kernel: KernelFeatures = withSeed) -> [ConfigDiagnostic] {
        do {
            return try GatewayConfig.parse(yaml: yaml, file: "gw.yaml", kernel: kernel).warnings
                .filter { $0.severity == .error }
        } catch {
            return error.diagnostics.filter { $0.severity == .error }
        }
    }

    /// Exactly one error, at `line`:`column`, containing each of `parts`.
    static func onlyError(
        _ yaml: String, kernel: KernelFeatures = withSeed, at line: Int, _ column: Int, _ parts: String...,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        let found = errors(yaml, kernel: kernel)
        #expect(found.count == 1, "\(found.map(\.description))", sourceLocation: sourceLocation)
        guard let error = found.first else { return }
        #expect((error.file, error.line, error.column) == ("gw.yaml", line, column), "\(error)", sourceLocation: sourceLocation)
        for part in parts {
            #expect(error.message.contains(part), "'\(part)' not in: \(error.message)", sourceLocation: sourceLocation)
        }
    }

    static let policy = "  - {source: 198.18.1.0/24, destination: 198.19.0.0/16, protocol: udp, destination-ports: \"5000-5001\", priority: 10, connection: c2}\n"

    @Test func policyRoutesWithADestinationPrefixAreAccepted() throws {
        let config = try GatewayConfig.parse(yaml: Self.kernelMode + Self.policy, file: "gw.yaml", kernel: Self.withoutSeed)
        #expect(config.policyRouteSets.count == 1)
        #expect(config.linux.table(ofPolicySet: 0, tunnels: 2) == 203)
        #expect(config.linux.rulePriority(ofPolicy: 10) == 1010 && config.linux.tableRulePriority(kernelMode: true) == 1101)
    }

    @Test func symmetricHashingIsRefused() {
        Self.onlyError(
            Self.kernelMode + "ecmp: {symmetric: true}\n", at: 12, 19, "'symmetric: true' cannot be honoured in kernel mode",
            "line 1", "remove 'symmetric', or use mode: userspace")
        // Userspace mode hashes symmetrically itself.
        let userspace = Self.kernelMode.replacingOccurrences(of: "mode: kernel", with: "mode: userspace")
        #expect(Self.errors(userspace + "ecmp: {symmetric: true}\n").isEmpty)
    }

    @Test func aSeedMustFitTheKernelsAndTheKernelMustHaveIt() throws {
        Self.onlyError(
            Self.kernelMode + "ecmp: {seed: 0x100000000}\n", at: 12, 14, "does not fit the kernel's hash seed",
            "at most 4294967295")
        Self.onlyError(
            Self.kernelMode + "ecmp: {seed: 42}\n", kernel: Self.withoutSeed, at: 12, 14,
            "no net.ipv4.fib_multipath_hash_seed", "Linux 6.11", "remove 'seed'")
        // A kernel that has it takes a u32 seed; without a seed any kernel does.
        let seeded = try GatewayConfig.parse(
            yaml: Self.kernelMode + "ecmp: {seed: 0xffffffff}\n", file: "gw.yaml", kernel: Self.withSeed)
        #expect(seeded.ecmp.seed == 0xffff_ffff)
        #expect(Self.errors(Self.kernelMode + "ecmp: {seed: 0}\n", kernel: Self.withoutSeed).isEmpty)
        // Userspace mode's seed is its own hash's: 64 bits, any kernel.
        let userspace = Self.kernelMode.replacingOccurrences(of: "mode: kernel", with: "mode: userspace")
        #expect(Self.errors(userspace + "ecmp: {seed: 0x100000000}\n", kernel: Self.withoutSeed).isEmpty)
    }

    @Test func aDefaultDestinationIsRefusedInKernelModeOnly() {
        let any = "  - {source: 198.18.1.0/24, destination: 0.0.0.0/0, priority: 10, connection: c2}\n"
        Self.onlyError(
            Self.kernelMode + any, at: 12, 42, "a default-route destination cannot be honoured in kernel mode",
            "one policy route per remote prefix")
        let userspace = Self.kernelMode.replacingOccurrences(of: "mode: kernel", with: "mode: userspace")
        #expect(Self.errors(userspace + any).isEmpty)
    }

    @Test func thePolicyTablesMustFitBelowTheKernelsTables() {
        // Table 249, two tunnel tables (250, 251), then one per policy route set: 252, 253 (one too many).
        let second = "  - {source: 198.18.2.0/24, destination: 198.19.0.0/16, priority: 20, connection: c2}\n"
        Self.onlyError(
            Self.kernelMode + Self.policy + second + "linux: {table: 249}\n", at: 14, 16,
            "no room for the 2 tunnel tables and the 2 policy route set tables", "use at most 248")
        #expect(Self.errors(Self.kernelMode + Self.policy + second + "linux: {table: 248}\n").isEmpty)
        // The learning table may not be one of them.
        Self.onlyError(
            Self.kernelMode + Self.policy + "learning: {table: 203}\n", at: 13, 19,
            "'table' 203 is one of Tandem's policy route set tables")
    }
}
