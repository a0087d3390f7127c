import ArgumentParser
import TandemConfig
import TandemRouting

#if canImport(Glibc)
    import Glibc
#endif

/// `tandem check-config`: reads a configuration file, prints every problem in it, or a summary when it is valid.
struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a gateway configuration file.",
        discussion: """
            Reads the YAML file, checks every key and rule (docs/config.md) and prints each problem as \
            `file:line:col: error: message` on standard error, warnings too. A valid file prints its \
            warnings, then a summary, compiles it into the routing tables as the gateway would, and exits 0; a file with errors prints the number of errors and exits 1.
            """)

    @Argument(help: "The configuration file (YAML).")
    var file: String

    func run() throws {
        let config: GatewayConfig
        do {
            config = try GatewayConfig.load(path: file)
        } catch {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            let count = error.errors.count
            printError(count == 1 ? "1 error" : "\(count) errors")
            throw ExitCode(1)
        }
        for warning in config.warnings { printError(warning.description) }
        // Compile it as the gateway would: the router must accept everything the file says.
        let router: Router
        do {
            (router, _) = try config.makeRouter(at: SystemMonotonicClock().now())
        } catch {
            printError("\(file): error: the routing layer refused the configuration: \(error)")
            throw ExitCode(1)
        }
        print(config.summary(file: file))
        let (ipv4, ipv6, installed) = router.prefixCounts
        print(
            "  compiled    \(counted(router.groupCount, "group")), \(counted(router.chainCount, "route chain")), "
                + "\(installed) of \(counted(ipv4 + ipv6, "prefix", "prefixes")) in the FIB")
    }

    /// "1 group", "2 groups".
    private func counted(_ count: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(count) " + (count == 1 ? singular : plural ?? singular + "s")
    }
}
