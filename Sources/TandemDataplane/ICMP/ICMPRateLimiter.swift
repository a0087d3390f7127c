// Rate limiting ICMP errors the way Linux does: a token bucket per destination host (inetpeer's
// `inet_peer_xrlim_allow`, `net.ipv4.icmp_ratelimit`) behind a global bucket (`icmp_global_allow`,
// `net.ipv4.icmp_msgs_per_sec` and `icmp_msgs_burst`).

import TandemPacket

/// How fast ICMP errors may be sent; the defaults are Linux's.
public struct ICMPRateLimit: Hashable, Sendable {
    /// The time one per-host token stands for: Linux's `icmp_ratelimit`, 1000 ms. Zero: no per-host limit
    /// (the global limit still applies), as in Linux.
    public var perHostInterval: Duration
    /// How many errors one host may get in a burst: Linux's `XRLIM_BURST_FACTOR`, 6. Values below 1 count as 1.
    public var perHostBurst: Int
    /// Global tokens added per second: Linux's `icmp_msgs_per_sec`, 1000. Zero adds none, so that only the
    /// first burst is ever sent, as in Linux. At most 10^9.
    public var globalPerSecond: Int
    /// How many global tokens may pile up: Linux's `icmp_msgs_burst`, 50. Zero sends nothing.
    public var globalBurst: Int
    /// Whether fragmentation needed and packet too big are limited too, by
    /// ``ICMPRateLimiter``'s `allow(_:destination:now:)`. Linux never limits them (see
    /// ``ICMPErrorKind/isPathMTUError``), hence `false`.
    public var limitsPathMTUErrors: Bool

    /// Makes a configuration; every default is Linux's.
    ///
    /// - Parameters:
    ///   - perHostInterval: The time one per-host token stands for; zero for no per-host limit.
    ///   - perHostBurst: The per-host burst, in errors.
    ///   - globalPerSecond: Global errors per second.
    ///   - globalBurst: The global burst, in errors.
    ///   - limitsPathMTUErrors: Whether path MTU errors are limited too.
    public init(
        perHostInterval: Duration = .milliseconds(1000), perHostBurst: Int = 6, globalPerSecond: Int = 1000,
        globalBurst: Int = 50, limitsPathMTUErrors: Bool = false
    ) {
        self.perHostInterval = perHostInterval
        self.perHostBurst = perHostBurst
        self.globalPerSecond = globalPerSecond
        self.globalBurst = globalBurst
        self.limitsPathMTUErrors = limitsPathMTUErrors
    }
}

/// Decides whether an ICMP error may be sent now, like Linux: the global bucket must hold a token, then the
/// destination host's bucket must; a message that passes both takes one token from each.
///
/// Per host (Linux `inet_peer_xrlim_allow`): the bucket counts time, not messages. It gains the time that
/// passed since the host was last seen, up to `perHostBurst × perHostInterval`, and sending takes
/// `perHostInterval` from it. A host seen for the first time starts full: a burst of `perHostBurst` errors,
/// then one per interval.
///
/// Globally (Linux `icmp_global_allow`, `icmp_global_consume`): while credit is left, errors go; when it is
/// gone, it is refilled by `globalPerSecond × elapsed` (elapsed since the last refill, at most one second and
/// only counted from 20 ms on), capped at `globalBurst`. The bucket starts full. Linux takes 0, 1 or 2 credits
/// at random per message (one on average) so that an attacker cannot count them; this takes exactly one, so
/// that replays are deterministic.
///
/// Hosts live in a fixed table allocated once (open addressing, ``probeWindow`` slots per key). When a key's
/// window is full, the entry that would lose least by being forgotten is replaced: the one whose bucket is
/// fullest now (a full bucket is exactly what a new entry starts with, so replacing it changes nothing), the
/// least recently seen among equals. A host that is being limited has an emptier bucket than the idle hosts
/// around it, so it keeps its entry.
///
/// Time is the caller's: nanoseconds of any monotonic clock, passed in. Time that goes backwards counts as
/// none. One limiter per queue, owned by it in a `var` (it is a value; `allow` mutates it). Nothing here
/// allocates after `init`, as long as the limiter is not copied: a copy shares the table until one of the two
/// next calls `allow`, which then copies it.
public struct ICMPRateLimiter: Sendable {
    /// The default table size. Linux's inetpeer tree grows instead; at the default global rate of 1000 errors
    /// a second, 4096 entries hold every host that got an error in the last four seconds or so.
    public static let defaultCapacity = 4096
    /// How many slots a key may sit in, from its hash on.
    public static let probeWindow = 8

    /// The configuration.
    public let configuration: ICMPRateLimit

    /// `perHostInterval` in nanoseconds; 0 turns the per-host limit off.
    private let interval: UInt64
    /// The most a host's bucket holds, in nanoseconds: `perHostBurst × interval`.
    private let bucketSize: UInt64
    private let globalPerSecond: UInt64
    private let globalBurst: Int
    private var globalCredit: Int
    private var globalStamp: UInt64 = 0
    private var hosts: ContiguousArray<Host>
    private let mask: Int
    private let hashSeed: UInt64

    /// One destination host's bucket.
    private struct Host: Sendable {
        var key: UInt128 = 0
        /// The bucket, in nanoseconds of credit.
        var tokens: UInt64 = 0
        /// When the bucket was last brought up to date.
        var last: UInt64 = 0
        var used = false
    }

    /// Makes a limiter with every bucket full and its host table allocated.
    ///
    /// - Parameters:
    ///   - configuration: The limits.
    ///   - capacity: How many hosts the table holds; rounded up to a power of two, at least ``probeWindow``.
    ///   - hashSeed: Mixed into the hash of every key; pass a random value so that an outsider cannot pick
    ///     sources that share one probe window.
    public init(_ configuration: ICMPRateLimit = ICMPRateLimit(), capacity: Int = defaultCapacity, hashSeed: UInt64 = 0)
    {
        self.configuration = configuration
        interval = Self.nanoseconds(configuration.perHostInterval)
        let (size, overflow) = interval.multipliedReportingOverflow(by: UInt64(max(configuration.perHostBurst, 1)))
        // Half the range at most, so that adding elapsed time (capped at the bucket size) cannot overflow.
        bucketSize = overflow ? UInt64.max / 2 : min(size, UInt64.max / 2)
        globalPerSecond = UInt64(min(max(configuration.globalPerSecond, 0), 1_000_000_000))
        globalBurst = max(configuration.globalBurst, 0)
        globalCredit = globalBurst
        var slots = Self.probeWindow
        while slots < capacity { slots *= 2 }
        hosts = ContiguousArray(repeating: Host(), count: slots)
        mask = slots - 1
        self.hashSeed = hashSeed
    }

    /// How many hosts the table holds.
    public var capacity: Int { hosts.count }

    /// How many hosts have an entry (a walk over the table, for tests and diagnostics).
    public var trackedHosts: Int { hosts.reduce(0) { $0 + ($1.used ? 1 : 0) } }

    /// Whether an ICMP error to `destination` may be sent at `now`; if so, the tokens are taken.
    ///
    /// - Parameters:
    ///   - destination: Where the error goes: the offending packet's source.
    ///   - now: The time in nanoseconds.
    /// - Returns: `true` to send the error.
    public mutating func allow(destination: IPv6Address, now: UInt64) -> Bool {
        allow(key: destination.rawValue, now: now)
    }

    /// Whether an ICMP error to the IPv4 host `destination` may be sent at `now`; if so, the tokens are taken.
    /// The host's entry is keyed by its IPv4-mapped IPv6 address (::ffff:a.b.c.d).
    ///
    /// - Parameters:
    ///   - destination: Where the error goes: the offending packet's source.
    ///   - now: The time in nanoseconds.
    /// - Returns: `true` to send the error.
    public mutating func allow(destination: IPv4Address, now: UInt64) -> Bool {
        allow(key: Self.mappedKey(destination), now: now)
    }

    /// Whether `error` to `destination` may be sent at `now`. Path MTU errors always may, taking no tokens, as
    /// in Linux, unless ``ICMPRateLimit/limitsPathMTUErrors`` is set.
    ///
    /// - Parameters:
    ///   - error: The error to send.
    ///   - destination: Where the error goes: the offending packet's source.
    ///   - now: The time in nanoseconds.
    /// - Returns: `true` to send the error.
    public mutating func allow(_ error: ICMPErrorKind, destination: IPv6Address, now: UInt64) -> Bool {
        if error.isPathMTUError && !configuration.limitsPathMTUErrors { return true }
        return allow(key: destination.rawValue, now: now)
    }

    /// Whether `error` to the IPv4 host `destination` may be sent at `now`. Path MTU errors always may, taking
    /// no tokens, as in Linux, unless ``ICMPRateLimit/limitsPathMTUErrors`` is set.
    ///
    /// - Parameters:
    ///   - error: The error to send.
    ///   - destination: Where the error goes: the offending packet's source.
    ///   - now: The time in nanoseconds.
    /// - Returns: `true` to send the error.
    public mutating func allow(_ error: ICMPErrorKind, destination: IPv4Address, now: UInt64) -> Bool {
        if error.isPathMTUError && !configuration.limitsPathMTUErrors { return true }
        return allow(key: Self.mappedKey(destination), now: now)
    }

    /// The IPv4-mapped IPv6 address of `address` (RFC 4291 2.5.5.2), as a table key.
    static func mappedKey(_ address: IPv4Address) -> UInt128 {
        UInt128(0xFFFF) << 32 | UInt128(address.rawValue)
    }

    private mutating func allow(key: UInt128, now: UInt64) -> Bool {
        guard globalAllows(now: now) else { return false }
        if interval != 0 {
            guard hostAllows(key: key, now: now) else { return false }
        }
        globalCredit -= 1
        return true
    }

    /// Linux `icmp_global_allow`: credit left, or a refill that brings some.
    private mutating func globalAllows(now: UInt64) -> Bool {
        if globalCredit > 0 { return true }
        let second: UInt64 = 1_000_000_000
        let elapsed = min(now > globalStamp ? now - globalStamp : 0, second)
        guard elapsed >= second / 50 else { return false }
        let increment = Int(globalPerSecond * elapsed / second)
        guard increment > 0 else { return false }
        globalStamp = now
        globalCredit = min(globalCredit + increment, globalBurst)
        return globalCredit > 0
    }

    /// Linux `inet_peer_xrlim_allow` on the host's entry, found or made.
    private mutating func hostAllows(key: UInt128, now: UInt64) -> Bool {
        let start = Int(truncatingIfNeeded: Self.hash(key, seed: hashSeed))
        var victim = start & mask
        var victimTokens: UInt64 = 0
        var victimLast = UInt64.max
        var slot = -1
        for step in 0..<Self.probeWindow {
            let index = (start &+ step) & mask
            let host = hosts[index]
            if !host.used {
                // Entries are never removed, so the key is not further on.
                hosts[index] = Host(key: key, tokens: bucketSize, last: now, used: true)
                slot = index
                break
            }
            if host.key == key {
                slot = index
                break
            }
            let tokens = refilled(host, now: now)
            if tokens > victimTokens || (tokens == victimTokens && host.last <= victimLast) {
                victim = index
                victimTokens = tokens
                victimLast = host.last
            }
        }
        if slot < 0 {
            hosts[victim] = Host(key: key, tokens: bucketSize, last: now, used: true)
            slot = victim
        }
        var host = hosts[slot]
        host.tokens = refilled(host, now: now)
        host.last = max(host.last, now)
        let allowed = host.tokens >= interval
        if allowed { host.tokens -= interval }
        hosts[slot] = host
        return allowed
    }

    /// The host's bucket brought up to `now`.
    @inline(__always)
    private func refilled(_ host: Host, now: UInt64) -> UInt64 {
        let elapsed = now > host.last ? now - host.last : 0
        return min(host.tokens + min(elapsed, bucketSize), bucketSize)
    }

    /// A 64-bit mix of the key (the murmur3 finaliser over both halves).
    @inline(__always)
    private static func hash(_ key: UInt128, seed: UInt64) -> UInt64 {
        var x = (UInt64(truncatingIfNeeded: key >> 64) &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: key)
        x ^= seed
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }

    /// `duration` in nanoseconds: 0 for negative durations, capped at about 31 years.
    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        return UInt64(min(seconds, 1_000_000_000)) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
