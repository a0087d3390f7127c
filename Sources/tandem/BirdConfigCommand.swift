import ArgumentParser
import TandemConfig

/// `tandem bird-config`: the BIRD 2 configuration of a gateway file (docs/run.md, "Running with BIRD").
struct BirdConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bird-config",
        abstract: "Write the BIRD 2 configuration of a gateway file's BGP sessions.",
        discussion: """
            Reads and checks the YAML file as check-config does, then writes a BIRD 2 configuration: one BGP \
            session per tunnel with 'routing: bgp' over its inside /30, an import filter that refuses 0.0.0.0/0 \
            and ::/0, an import limit of limits.dynamic-routes, an export filter that announces only the \
            'advertise' prefixes, BFD where 'bfd: true', and kernel protocols that put the learned routes, \
            multipath merged, into the 'learning' table as proto bird. Without --output it prints to standard \
            output. A file with errors, or one that cannot give a working BIRD configuration (no BGP tunnel, \
            learning that leaves out bird), prints every problem as `file:line:col: error: message` and exits 1, \
            writing nothing. Check the result with `bird -p -c FILE`.
            """)

    @Argument(help: "The gateway configuration file (YAML).")
    var file: String

    @Option(
        name: .long, help: "Write the configuration to this file (replaced in one step) instead of standard output.")
    var output: String?

    func run() throws {
        let text: String
        do {
            let config = try GatewayConfig.load(path: file)
            for warning in config.warnings { printError(warning.description) }
            text = try config.birdConfiguration(file: file)
        } catch {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            let count = error.errors.count
            printError(count == 1 ? "1 error" : "\(count) errors")
            throw ExitCode(1)
        }
        guard let output else {
            print(text, terminator: "")
            return
        }
        do {
            try writeTextFileAtomically(text, to: output)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        printError("\(output): BIRD configuration written from \(file); check it with: bird -p -c \(output)")
    }
}
