import Foundation
import Testing
import TandemLinux
import TandemPacket

/// Capabilities are per thread: every restriction here happens on a thread the test makes and joins, never on the
/// test runner's own threads, and the test proves its own thread kept its capabilities.
@Suite(.serialized, .enabled(if: isRoot, "needs root: restricting capabilities needs capabilities"))
struct ProcessCapabilitiesTests {
    /// What a restricted thread saw, read by the test after joining it.
    final class Report: @unchecked Sendable {
        var effective: Set<Capability> = []
        var status: [String: UInt64] = [:]
        var routeRefusals: [String] = []
        var readFileError: Int32 = 0
        var failure: String?
    }

    /// Runs `body` on a new POSIX thread and waits for the thread to end (pthread_join: it is gone afterwards).
    static func onNewThread(_ body: @escaping () -> Void) {
        final class Work { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Work(body)).toOpaque()
        let created = pthread_create(&thread, nil, { context in
            let work = Unmanaged<Work>.fromOpaque(context!).takeRetainedValue()
            work.body()
            return nil
        }, context)
        precondition(created == 0, "pthread_create: \(created)")
        pthread_join(thread, nil)
    }

    /// The calling thread's Cap* lines of /proc/thread-self/status, as numbers.
    static func threadStatus() -> [String: UInt64] {
        let text = (try? String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8)) ?? ""
        var found: [String: UInt64] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("Cap") {
            let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let value = UInt64(parts[1], radix: 16) { found[parts[0]] = value }
        }
        return found
    }

    /// On a new thread: opens a netlink socket in the namespace, restricts the thread to `kept`, then records what
    /// the thread has, whether the kernel takes a route from it, and whether it can read a file of mode 000.
    static func restricted(to kept: Set<Capability>, lab: TestNamespace, lockedFile: String) -> Report {
        let report = Report()
        let namespace = lab.namespace
        onNewThread {
            do {
                let netlink = try namespace.withEntered { () throws(SystemError) in try RouteNetlink() }
                let device = try namespace.withEntered { if_nametoindex("v0") }
                try ProcessCapabilities.restrictCallingThread(to: kept)
                report.effective = try ProcessCapabilities.effective()
                report.status = threadStatus()
                let route = KernelRoute(
                    prefix: try RoutePrefix("198.19.12.0/24"), table: 200, protocol: 201, target: .device(device))
                report.routeRefusals = try netlink.apply([.add(route, replace: true)]).map(\.description)
                let descriptor = open(lockedFile, O_RDONLY)
                report.readFileError = descriptor < 0 ? errno : 0
                if descriptor >= 0 { close(descriptor) }
            } catch {
                report.failure = "\(error)"
            }
        }
        return report
    }

    @Test func aThreadKeepsOnlyWhatItIsToldAndTheOthersKeepEverything() throws {
        try TestNamespace.with { lab in
            let before = Self.threadStatus()
            let mine = try ProcessCapabilities.effective()
            #expect(mine.contains(.netAdmin) && mine.contains(.dacOverride) && mine.contains(.sysAdmin))
            // Root's own file with no permission bits: only CAP_DAC_OVERRIDE (or DAC_READ_SEARCH) reads it.
            let lockedFile = NSTemporaryDirectory() + "tandem-capability-test-\(getpid())"
            #expect(FileManager.default.createFile(atPath: lockedFile, contents: Data("x".utf8), attributes: [.posixPermissions: 0]))
            defer { try? FileManager.default.removeItem(atPath: lockedFile) }

            // Kept: CAP_NET_ADMIN. Routes still go in; the file is closed to it; the bounding set is that one bit.
            let netAdmin = Self.restricted(to: [.netAdmin], lab: lab, lockedFile: lockedFile)
            #expect(netAdmin.failure == nil)
            #expect(netAdmin.effective == [.netAdmin])
            let bit: UInt64 = 1 << 12
            #expect(netAdmin.status["CapEff"] == bit && netAdmin.status["CapPrm"] == bit)
            #expect(netAdmin.status["CapBnd"] == bit && netAdmin.status["CapInh"] == 0)
            #expect(netAdmin.routeRefusals.isEmpty)
            #expect(netAdmin.readFileError == EACCES)
            #expect(try lab.kernelRoutes(table: 200, protocol: 201, family: "-4") == ["198.19.12.0/24 dev v0 scope link "])

            // Kept: nothing. The kernel refuses the route, by name.
            let nothing = Self.restricted(to: [], lab: lab, lockedFile: lockedFile)
            #expect(nothing.failure == nil)
            #expect(nothing.effective.isEmpty)
            #expect(nothing.status["CapEff"] == 0 && nothing.status["CapBnd"] == 0)
            #expect(nothing.routeRefusals == ["replacing route 198.19.12.0/24 table 200: Operation not permitted"])

            // This thread has all it had, and uses it.
            #expect(try ProcessCapabilities.effective() == mine)
            #expect(Self.threadStatus() == before)
            let descriptor = open(lockedFile, O_RDONLY)
            #expect(descriptor >= 0)
            if descriptor >= 0 { close(descriptor) }
            let netlink = try lab.netlink()
            #expect(try netlink.apply([.delete(KernelRoute(
                prefix: try RoutePrefix("198.19.12.0/24"), table: 200, protocol: 201, target: .device(try lab.deviceIndex())))]).isEmpty)
        }
    }

    /// Under systemd's `CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW` the process has no CAP_SETPCAP: restricting
    /// to what the bounding set already is must work (it failed with EPERM when it asked to drop absent
    /// capabilities), and what cannot be dropped without CAP_SETPCAP is reported, not thrown, with the thread's sets
    /// narrowed all the same.
    @Test func withoutSetpcapOnlyWhatIsLeftIsReported() {
        final class Outcome: @unchecked Sendable {
            var systemdLike: Result<[UInt32], SystemError>?
            var systemdLikeStatus: [String: UInt64] = [:]
            var extra: Result<[UInt32], SystemError>?
            var extraStatus: [String: UInt64] = [:]
        }
        let outcome = Outcome()
        let netAdmin: UInt64 = 1 << 12
        let netRaw: UInt64 = 1 << 13
        let chown: UInt64 = 1 << 0
        // What systemd would hand over: the bounding set and the thread's sets are CAP_NET_ADMIN and CAP_NET_RAW.
        Self.onNewThread {
            do throws(SystemError) {
                try ProcessCapabilities.restrictCallingThread(to: [.netAdmin, .netRaw])
                outcome.systemdLike = Result { () throws(SystemError) in
                    try ProcessCapabilities.restrictCallingThread(to: [.netAdmin, .netRaw])
                }
                outcome.systemdLikeStatus = Self.threadStatus()
            } catch {
                outcome.systemdLike = .failure(error)
            }
        }
        // A bounding set wider than asked, and no CAP_SETPCAP to narrow it.
        Self.onNewThread {
            do throws(SystemError) {
                try ProcessCapabilities.restrictCallingThread(to: [.netAdmin, .netRaw, .chown])
                outcome.extra = Result { () throws(SystemError) in
                    try ProcessCapabilities.restrictCallingThread(to: [.netAdmin])
                }
                outcome.extraStatus = Self.threadStatus()
            } catch {
                outcome.extra = .failure(error)
            }
        }
        #expect((try? outcome.systemdLike?.get()) == [])
        #expect(outcome.systemdLikeStatus["CapEff"] == netAdmin | netRaw)
        #expect(outcome.systemdLikeStatus["CapBnd"] == netAdmin | netRaw)
        #expect((try? outcome.extra?.get()) == [0, 13])
        #expect(outcome.extraStatus["CapEff"] == netAdmin && outcome.extraStatus["CapPrm"] == netAdmin)
        #expect(outcome.extraStatus["CapBnd"] == netAdmin | netRaw | chown)
    }
}
