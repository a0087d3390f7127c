import Foundation
import TandemLinux
import Testing

/// A veth's carrier, admin state and deletion, as the link notifications and the link dump report them.
@Suite(.serialized, .enabled(if: isRoot, "needs root to make network namespaces (tools/test runs as root in CI)"))
struct LinkMonitorTests {
    /// The states of `name` among notifications, in order.
    func states(of name: String, in links: [LinkState]) -> [Bool] { links.filter { $0.name == name }.map(\.up) }

    @Test func carrierLossAdminDownAndDeletionAreReportedAsDown() throws {
        try TestNamespace.with { lab in
            let monitor = try lab.namespace.withEntered { () throws(SystemError) in try LinkMonitor() }
            let name = lab.namespace.name
            #expect(try monitor.read().isEmpty, "nothing yet, and no blocking")
            let dump = try lab.netlink().links()
            #expect(dump.first { $0.name == "v0" }?.up == true)
            #expect(dump.first { $0.name == "v0" }?.index == (try lab.deviceIndex()))

            // The peer goes down: v0 loses its carrier (admin still up).
            try TestNamespace.ip(["-n", name, "link", "set", "v1", "down"])
            #expect(states(of: "v0", in: try monitor.read()).last == false)
            #expect(try lab.netlink().links().first { $0.name == "v0" }?.up == false)
            try TestNamespace.ip(["-n", name, "link", "set", "v1", "up"])
            #expect(states(of: "v0", in: try monitor.read()).last == true)

            // Admin down on v0 itself.
            try TestNamespace.ip(["-n", name, "link", "set", "v0", "down"])
            #expect(states(of: "v0", in: try monitor.read()).last == false)
            try TestNamespace.ip(["-n", name, "link", "set", "v0", "up"])
            #expect(states(of: "v0", in: try monitor.read()).last == true)

            // Deleted (its peer goes with it).
            try TestNamespace.ip(["-n", name, "link", "del", "v0"])
            let last = try monitor.read()
            #expect(states(of: "v0", in: last).last == false)
            #expect(!(try lab.netlink().links().contains { $0.name == "v0" }))
        }
    }

    @Test func theUpTestWantsAdminUpAndRunning() {
        #expect(LinkState.isUp(flags: UInt32(IFF_UP | IFF_RUNNING)))
        #expect(!LinkState.isUp(flags: UInt32(IFF_UP)), "no carrier")
        #expect(!LinkState.isUp(flags: UInt32(IFF_RUNNING)), "admin down")
    }
}
