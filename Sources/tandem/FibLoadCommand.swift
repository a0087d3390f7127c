import ArgumentParser
import TandemDatasets
import TandemLinux
import TandemPacket
import TandemRouting

#if canImport(Glibc)
import Glibc
#endif

/// `tandem fib-load`: installs a whole routing table into the kernel's FIB of the current network namespace.
struct FibLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fib-load",
        abstract: "Install (or remove) every prefix of a routing table in a kernel table, over rtnetlink.",
        discussion: """
            Run it inside a network namespace (`ip netns exec NS tandem fib-load ...`): it changes the routes of \
            the namespace it runs in. Every prefix of --table (default: the shared full table, or the synthetic \
            one) becomes a route out of --device in kernel table --kernel-table, marked with --protocol. Prints \
            how long it took; refused routes are counted and the first few printed.
            """)

    @Option(name: .long, help: "The routing table file (default: ../shared/data/full-table-2024.txt.gz).")
    var table: String?

    @Option(name: .long, help: "The kernel routing table to fill.")
    var kernelTable: UInt32 = 100

    @Option(name: .long, help: "The device the routes point out of.")
    var device: String

    @Option(name: .long, help: "The rtm_protocol number that marks the routes.")
    var `protocol`: UInt8 = 200

    @Flag(name: .long, help: "Remove the routes instead of adding them.")
    var delete = false

    @Flag(
        name: .long,
        help: """
            Point the routes at a nexthop object per family (ids 1 and 2, made first; Linux 5.3) instead of at \
            the device, as FRR and Tandem's kernel mode do.
            """)
    var nexthopObjects = false

    func run() throws {
        let data = try RouteTableData.loadOrSynthesize(path: table)
        let index = if_nametoindex(device)
        guard index != 0 else { throw CommandError("no device named \(device) in this network namespace") }
        let objects = [IPFamily.ipv4, .ipv6].enumerated().map { number, family in
            NexthopObject(
                id: UInt32(number + 1), protocol: `protocol`, kind: .device(index, gateway: nil, family: family))
        }
        let target4: KernelRoute.Target = nexthopObjects ? .nexthopObject(objects[0].id) : .device(index)
        let target6: KernelRoute.Target = nexthopObjects ? .nexthopObject(objects[1].id) : .device(index)
        let routes = data.ipv4.map {
            KernelRoute(prefix: .v4($0), table: kernelTable, protocol: `protocol`, target: target4)
        } + data.ipv6.map { KernelRoute(prefix: .v6($0), table: kernelTable, protocol: `protocol`, target: target6) }
        let netlink = try RouteNetlink()
        let clock = SystemMonotonicClock()
        let start = clock.now()
        var failures: [SystemError] = []
        if nexthopObjects && !delete {
            failures += try netlink.apply(nexthops: objects.map { .add($0, replace: true) })
        }
        failures += try netlink.apply(
            RouteChange.inInstallationOrder(routes.map { delete ? .delete($0) : .add($0, replace: true) }))
        if nexthopObjects && delete { failures += try netlink.apply(nexthops: objects.map { .delete(id: $0.id) }) }
        let seconds = Double((clock.now() - start).totalNanoseconds) / 1e9
        print(
            "\(delete ? "removed" : "installed") \(routes.count - failures.count) of \(routes.count) routes in "
                + "\(String(format: seconds)) s (\(Int(Double(routes.count) / max(seconds, 1e-9))) routes/s)")
        for failure in failures.prefix(5) { printError("  \(failure)") }
        if failures.count > 5 { printError("  ... and \(failures.count - 5) more") }
    }
}

private extension String {
    init(format seconds: Double) { self = String(Double(Int(seconds * 1000)) / 1000) }
}
