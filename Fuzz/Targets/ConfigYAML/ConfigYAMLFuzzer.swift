// Fuzz target 9: the YAML configuration from bytes, through the whole loader: the file read, UTF-8 decoding, Yams
// (libyaml is compiled from source in this build, so it is instrumented too), every section and every
// validation rule; then what a configuration that passes is made into: the summary, the router and its failover
// controller, the pipeline's settings and a pipeline.
//
// The input is the file, written to a scratch file and loaded with `GatewayConfig.load(path:)` as `tandem run`
// loads it. A file that fails must say why with at least one error; one that passes must build everything without
// trapping (a value the rules let through that a component refuses is a missing rule).

import FuzzSupport
import TandemConfig
import TandemDataplane
import TandemRouting

private let file = ScratchFile(suffix: ".yaml")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    file.write(input.bytes)
    let config: GatewayConfig
    do {
        config = try GatewayConfig.load(path: file.path)
    } catch {
        fuzzCheck(!error.errors.isEmpty, "a configuration refused without an error: \(error)")
        for diagnostic in error.diagnostics {
            fuzzCheck(diagnostic.line >= 0 && diagnostic.column >= 0, "diagnostic at \(diagnostic.line):\(diagnostic.column)")
            fuzzCheck(!diagnostic.message.isEmpty, "a diagnostic without a message")
        }
        return 0
    }
    fuzzCheck(config.warnings.allSatisfy { $0.severity != .error }, "an error among the warnings of a valid file")
    _ = config.summary(file: file.path)
    // Small arenas, as a test router has: the plane's default reserves room for a full Internet table.
    var capacity = ForwardingPlane.Capacity()
    capacity.chains = 1 << 10
    capacity.groups = 1 << 6
    capacity.connections = 1 << 8
    guard let (router, _) = try? config.makeRouter(capacity: capacity, at: MonotonicInstant(nanoseconds: 0)) else {
        // Capacity exhausted (a file with more connections or routes than these arenas), not a crash.
        return 0
    }
    let settings = config.pipelineConfiguration()
    fuzzCheck(settings.tunnelMTUs.count == config.tunnels.count, "an MTU per tunnel")
    _ = Pipeline(plane: router.plane, configuration: settings, batchCapacity: 1)
    return 0
}
