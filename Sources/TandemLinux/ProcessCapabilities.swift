// Dropping privileges: Tandem starts as root to make its devices and routes, then keeps only what it needs
// (CAP_NET_ADMIN for rtnetlink and TUN, CAP_NET_RAW if it uses raw sockets). Raw capget/capset and prctl through the
// C shim: no libcap.

import CTandemLinux

#if canImport(Glibc)
import Glibc
#endif

/// A Linux capability (linux/capability.h); the raw value is its number.
/// Printed as its case name ("netAdmin").
public enum Capability: UInt32, Hashable, Sendable, CaseIterable {
    case chown = 0
    case dacOverride = 1
    case dacReadSearch = 2
    case fowner = 3
    case fsetid = 4
    case kill = 5
    case setgid = 6
    case setuid = 7
    case setpcap = 8
    case linuxImmutable = 9
    case netBindService = 10
    case netBroadcast = 11
    case netAdmin = 12
    case netRaw = 13
    case ipcLock = 14
    case ipcOwner = 15
    case sysModule = 16
    case sysRawio = 17
    case sysChroot = 18
    case sysPtrace = 19
    case sysPacct = 20
    case sysAdmin = 21
    case sysBoot = 22
    case sysNice = 23
    case sysResource = 24
    case sysTime = 25
    case sysTtyConfig = 26
    case mknod = 27
    case lease = 28
    case auditWrite = 29
    case auditControl = 30
    case setfcap = 31
    case macOverride = 32
    case macAdmin = 33
    case syslog = 34
    case wakeAlarm = 35
    case blockSuspend = 36
    case auditRead = 37
    case perfmon = 38
    case bpf = 39
    case checkpointRestore = 40
}

/// The capabilities of the calling thread.
public enum ProcessCapabilities {
    /// Keeps only `kept` in the effective, permitted and inheritable sets of the calling thread, and drops every
    /// other capability from the bounding set (PR_CAPBSET_DROP). Capabilities are per thread in Linux: call it before
    /// starting other threads; threads made afterwards inherit the result.
    ///
    /// A capability of `kept` that the thread does not have is not gained: the sets become `kept` ∩ what they were.
    /// Dropping from the bounding set needs CAP_SETPCAP, so it happens before the sets shrink, and only for what is
    /// still there (PR_CAPBSET_READ first): under systemd's `CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW` the
    /// process has no CAP_SETPCAP and nothing left to drop, and asking the kernel to drop an absent capability would
    /// fail with EPERM all the same. What is still in the bounding set and cannot be dropped without CAP_SETPCAP
    /// (EPERM) is returned, not thrown: the thread's own sets are what limit it; the bounding set only limits what an
    /// `execve` could gain, which Tandem never makes and no_new_privs already forbids.
    ///
    /// The corresponding C calls are `prctl(PR_CAPBSET_READ)` and `prctl(PR_CAPBSET_DROP)` per capability, `capget`
    /// and `capset`.
    ///
    /// - Returns: The capability numbers (also those newer than ``Capability``) left in the bounding set for want of
    ///   CAP_SETPCAP; empty when the bounding set is `kept` ∩ what it was.
    /// - Throws: ``SystemError`` for any other failure (reading the sets, capset).
    @discardableResult
    public static func restrictCallingThread(to kept: Set<Capability>) throws(SystemError) -> [UInt32] {
        let keptBits = bits(of: kept)
        let current = try sets()
        var left: [UInt32] = []
        // Every capability the kernel knows, also those newer than ``Capability``; EINVAL marks the end.
        for number in UInt32(0)..<64 where keptBits & (1 << UInt64(number)) == 0 {
            let present = CTandemLinux_boundingCapabilityIsSet(number)
            if present == 0 { continue }
            if present < 0 {
                let code = errno
                if code == EINVAL { break }
                throw SystemError(code: code, operation: "reading capability \(number) of the bounding set")
            }
            if CTandemLinux_dropBoundingCapability(number) == 0 { continue }
            let code = errno
            if code == EPERM {
                left.append(number)
                continue
            }
            let name = Capability(rawValue: number).map { " (\($0))" } ?? ""
            throw SystemError(code: code, operation: "dropping capability \(number)\(name) from the bounding set")
        }
        var effective = words(current.permitted & keptBits)
        var permitted = effective
        var inheritable = words(current.inheritable & keptBits)
        let names = kept.sorted { $0.rawValue < $1.rawValue }.map { "\($0)" }.joined(separator: ", ")
        _ = try valueOrErrno("restricting the calling thread's capabilities to [\(names)]") {
            CTandemLinux_setCapabilities(&effective, &permitted, &inheritable)
        }
        return left
    }

    /// The calling thread's bounding set, capability n as bit n (PR_CAPBSET_READ for each number the kernel knows).
    public static func boundingSet() -> UInt64 {
        var set: UInt64 = 0
        for number in UInt32(0)..<64 {
            let present = CTandemLinux_boundingCapabilityIsSet(number)
            if present < 0 { break }
            if present == 1 { set |= 1 << UInt64(number) }
        }
        return set
    }

    /// Empties the calling thread's effective, permitted and inheritable sets (capset only: the bounding set was
    /// already narrowed by the thread that made this one, and narrowing it again would need CAP_SETPCAP). For a
    /// thread that parses untrusted input. The corresponding C call is `capset`.
    public static func dropAllOfCallingThread() throws(SystemError) {
        var none: [UInt32] = [0, 0]
        var permitted: [UInt32] = [0, 0]
        var inheritable: [UInt32] = [0, 0]
        _ = try valueOrErrno("dropping every capability of the calling thread") {
            CTandemLinux_setCapabilities(&none, &permitted, &inheritable)
        }
    }

    /// The calling thread's effective set (capget).
    public static func effective() throws(SystemError) -> Set<Capability> {
        let effective = try sets().effective
        return Set(Capability.allCases.filter { effective & (1 << UInt64($0.rawValue)) != 0 })
    }

    /// The three sets of the calling thread, capability n as bit n.
    private static func sets() throws(SystemError) -> (effective: UInt64, permitted: UInt64, inheritable: UInt64) {
        var effective: [UInt32] = [0, 0]
        var permitted: [UInt32] = [0, 0]
        var inheritable: [UInt32] = [0, 0]
        _ = try valueOrErrno("reading the calling thread's capabilities") {
            CTandemLinux_getCapabilities(&effective, &permitted, &inheritable)
        }
        func joined(_ words: [UInt32]) -> UInt64 { UInt64(words[1]) << 32 | UInt64(words[0]) }
        return (joined(effective), joined(permitted), joined(inheritable))
    }

    private static func bits(of capabilities: Set<Capability>) -> UInt64 {
        capabilities.reduce(0) { $0 | 1 << UInt64($1.rawValue) }
    }

    /// A set as capset's two 32-bit words, low word first.
    private static func words(_ bits: UInt64) -> [UInt32] { [UInt32(truncatingIfNeeded: bits), UInt32(bits >> 32)] }
}
