import ArgumentParser

/// The `tandem` command line.
@main
struct Tandem: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Tandem: a Linux dataplane forwarder for site-to-cloud VPN gateways.",
        version: tandemVersion,
        subcommands: [
            Run.self, Show.self, Lookup.self, Drain.self, Undrain.self, CheckConfig.self, BirdConfig.self, Replay.self,
            GenPcap.self, GenUpdates.self, FibLoad.self, Version.self,
        ]
    )
}

let tandemVersion = "0.1.0"
