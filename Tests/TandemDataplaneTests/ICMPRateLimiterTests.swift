import TandemDataplane
import TandemPacket
import Testing

private let millisecond: UInt64 = 1_000_000
private let second: UInt64 = 1_000_000_000

/// Linux's per-host limit with a global bucket too large to matter.
private let perHostOnly = ICMPRateLimit(globalPerSecond: 1_000_000_000, globalBurst: 1 << 40)

/// A distinct IPv6 host per number.
private func host(_ number: Int) -> IPv6Address {
    IPv6Address(rawValue: 0x2001_0db8_0000_0000_0000_0000_0000_0000 | UInt128(number))
}

/// Whether one error to `destination` at `now` is allowed (a function, since `#expect` cannot mutate).
private func send(_ limiter: inout ICMPRateLimiter, _ destination: IPv6Address, at now: UInt64) -> Bool {
    limiter.allow(destination: destination, now: now)
}

/// Whether one error to the IPv4 host `destination` at `now` is allowed.
private func send(_ limiter: inout ICMPRateLimiter, _ destination: IPv4Address, at now: UInt64) -> Bool {
    limiter.allow(destination: destination, now: now)
}

/// How many of `count` errors of `kind` to `destination` at `now` are allowed.
private func allowed(
    _ limiter: inout ICMPRateLimiter, _ kind: ICMPErrorKind, _ destination: IPv6Address, at now: UInt64, count: Int
) -> Int {
    (0..<count).reduce(0) { sum, _ in sum + (limiter.allow(kind, destination: destination, now: now) ? 1 : 0) }
}

/// How many of `count` errors of `kind` to the IPv4 host `destination` at `now` are allowed.
private func allowed(
    _ limiter: inout ICMPRateLimiter, _ kind: ICMPErrorKind, _ destination: IPv4Address, at now: UInt64, count: Int
) -> Int {
    (0..<count).reduce(0) { sum, _ in sum + (limiter.allow(kind, destination: destination, now: now) ? 1 : 0) }
}

/// How many of the hosts `numbers` get an error at `now`.
private func allowed(_ limiter: inout ICMPRateLimiter, hosts numbers: Range<Int>, at now: UInt64) -> Int {
    numbers.reduce(0) { sum, number in sum + (limiter.allow(destination: host(number), now: now) ? 1 : 0) }
}

/// How many of `count` errors to `destination` at `now` are allowed.
private func allowed(_ limiter: inout ICMPRateLimiter, _ destination: IPv6Address, at now: UInt64, count: Int) -> Int {
    (0..<count).reduce(0) { sum, _ in sum + (limiter.allow(destination: destination, now: now) ? 1 : 0) }
}

@Suite("ICMP rate limiter")
struct ICMPRateLimiterTests {
    @Test("a host gets a burst of 6, then one per second")
    func burstThenOnePerInterval() {
        var limiter = ICMPRateLimiter(perHostOnly)
        let start = 10 * second
        #expect(allowed(&limiter, host(1), at: start, count: 10) == 6)
        #expect(!send(&limiter, host(1), at: start + 999 * millisecond))
        #expect(send(&limiter, host(1), at: start + 1000 * millisecond))
        #expect(!send(&limiter, host(1), at: start + 1000 * millisecond))
        #expect(!send(&limiter, host(1), at: start + 1999 * millisecond))
        #expect(send(&limiter, host(1), at: start + 2000 * millisecond))
        // Part of an interval carries over: 3.5 s give 3 errors, and the half second left makes a fourth
        // half a second later.
        #expect(allowed(&limiter, host(1), at: start + 5500 * millisecond, count: 10) == 3)
        #expect(allowed(&limiter, host(1), at: start + 6 * second, count: 10) == 1)
    }

    @Test("an idle host's bucket fills up to the burst, no further")
    func refillCapsAtBurst() {
        var limiter = ICMPRateLimiter(perHostOnly)
        #expect(allowed(&limiter, host(1), at: 0, count: 10) == 6)
        #expect(allowed(&limiter, host(1), at: 3600 * second, count: 100) == 6)
    }

    @Test("burst and interval come from the configuration")
    func configured() {
        var limit = perHostOnly
        limit.perHostInterval = .milliseconds(100)
        limit.perHostBurst = 2
        var limiter = ICMPRateLimiter(limit)
        #expect(allowed(&limiter, host(1), at: second, count: 5) == 2)
        #expect(allowed(&limiter, host(1), at: second + 99 * millisecond, count: 5) == 0)
        #expect(allowed(&limiter, host(1), at: second + 100 * millisecond, count: 5) == 1)
        #expect(allowed(&limiter, host(1), at: second + 10 * second, count: 5) == 2)
    }

    @Test("hosts are limited independently; an IPv4 host is keyed by its IPv4-mapped address")
    func independentHosts() {
        var limiter = ICMPRateLimiter(perHostOnly)
        #expect(allowed(&limiter, host(1), at: 0, count: 10) == 6)
        #expect(allowed(&limiter, host(2), at: 0, count: 10) == 6)
        let v4Host = IPv4Address(198, 18, 0, 1)
        #expect(allowed(&limiter, .timeExceeded, v4Host, at: 0, count: 10) == 6)
        #expect(send(&limiter, IPv4Address(198, 18, 0, 2), at: 0))
        // ::ffff:198.18.0.1 is the same host as 198.18.0.1; 2001:db8::c612:1 is not.
        #expect(!send(&limiter, v6("::ffff:198.18.0.1"), at: 0))
        #expect(send(&limiter, v6("2001:db8::c612:1"), at: 0))
        #expect(limiter.trackedHosts == 5)
    }

    @Test("the global bucket: a burst of 50, then 1000 per second counted from 20 ms on, capped at 50")
    func globalLimit() {
        var limiter = ICMPRateLimiter()
        // 100 hosts never seen before each time, so that only the global bucket can refuse them.
        #expect(allowed(&limiter, hosts: 0..<100, at: 0) == 50)
        #expect(allowed(&limiter, hosts: 100..<200, at: 19 * millisecond) == 0)
        #expect(allowed(&limiter, hosts: 200..<300, at: 20 * millisecond) == 20)
        #expect(allowed(&limiter, hosts: 300..<400, at: 30 * millisecond) == 0)  // 10 ms since the last refill
        #expect(allowed(&limiter, hosts: 400..<500, at: 45 * millisecond) == 25)
        #expect(allowed(&limiter, hosts: 500..<600, at: 60 * second) == 50)  // 1 s at most, capped by the burst
    }

    @Test("a refusal takes no tokens: the global one none from the host, the host one none from the bucket")
    func refusalsTakeNothing() {
        var limiter = ICMPRateLimiter(ICMPRateLimit(globalPerSecond: 1000, globalBurst: 10))
        #expect(allowed(&limiter, host(1), at: 0, count: 6) == 6)
        #expect(allowed(&limiter, host(1), at: 0, count: 5) == 0)  // host refusals: the bucket keeps 4
        #expect(allowed(&limiter, host(2), at: 0, count: 6) == 4)  // global refusals for the last 2
        // host(3) was refused by the global bucket only, so its own burst is untouched.
        #expect(allowed(&limiter, host(3), at: 0, count: 3) == 0)
        #expect(allowed(&limiter, host(3), at: 10 * second, count: 10) == 6)
    }

    @Test("no global rate: after the first burst nothing more is sent, as in Linux")
    func zeroGlobalRate() {
        var limiter = ICMPRateLimiter(ICMPRateLimit(globalPerSecond: 0, globalBurst: 5))
        #expect(allowed(&limiter, hosts: 0..<10, at: 0) == 5)
        #expect(allowed(&limiter, hosts: 10..<20, at: 3600 * second) == 0)
    }

    @Test("a zero interval turns the per-host limit off; the global one still holds")
    func zeroInterval() {
        var limit = perHostOnly
        limit.perHostInterval = .zero
        var unlimited = ICMPRateLimiter(limit)
        #expect(allowed(&unlimited, host(1), at: 0, count: 1000) == 1000)
        #expect(unlimited.trackedHosts == 0)
        var globalOnly = ICMPRateLimiter(ICMPRateLimit(perHostInterval: .zero))
        #expect(allowed(&globalOnly, host(1), at: 0, count: 1000) == 50)
        #expect(allowed(&globalOnly, host(1), at: 20 * millisecond, count: 1000) == 20)
    }

    @Test("a full table replaces the fullest bucket in the window, never the host being limited")
    func fullTableKeepsTheHotHost() {
        var limiter = ICMPRateLimiter(perHostOnly, capacity: 8)
        #expect(limiter.capacity == 8)
        let hot = host(0)
        let start = 100 * second
        #expect(allowed(&limiter, hot, at: start, count: 10) == 6)
        // A new host every millisecond for 2.5 s, 2500 hosts through 8 slots; the hot host asks each time too.
        var hotAllowed: [UInt64] = []
        for step in UInt64(1)...2500 {
            let now = start + step * millisecond
            #expect(send(&limiter, host(Int(step)), at: now), "a new host starts with a full bucket")
            if limiter.allow(destination: hot, now: now) { hotAllowed.append(step) }
            #expect(limiter.trackedHosts <= 8)
        }
        #expect(hotAllowed == [1000, 2000], "one error per second, as if the table were never full")
    }

    @Test("a full table replaces the host idle the longest among equally limited ones")
    func fullTableReplacesTheStalest() {
        var limiter = ICMPRateLimiter(perHostOnly, capacity: 8)
        for number in 0..<8 {
            #expect(allowed(&limiter, host(number), at: UInt64(number) * millisecond, count: 6) == 6)
        }
        #expect(limiter.trackedHosts == 8)
        #expect(send(&limiter, host(100), at: 100 * millisecond))
        #expect(limiter.trackedHosts == 8)
        // Hosts 1...7 kept their empty buckets; host 0 was forgotten, so it starts again with a full one.
        for number in 1..<8 { #expect(!send(&limiter, host(number), at: 100 * millisecond)) }
        #expect(send(&limiter, host(0), at: 100 * millisecond))
    }

    @Test(
        "the table is a power of two, at least the probe window",
        arguments: [(1, 8), (8, 8), (9, 16), (4096, 4096), (5000, 8192)])
    func capacity(asked: Int, got: Int) {
        #expect(ICMPRateLimiter(capacity: asked).capacity == got)
        #expect(ICMPRateLimiter().capacity == ICMPRateLimiter.defaultCapacity)
    }

    @Test("time that goes backwards adds no tokens")
    func backwardsTime() {
        var limiter = ICMPRateLimiter(perHostOnly)
        #expect(allowed(&limiter, host(1), at: 10 * second, count: 6) == 6)
        #expect(!send(&limiter, host(1), at: 5 * second))
        #expect(allowed(&limiter, host(1), at: 11 * second, count: 6) == 1)
    }

    @Test("fragmentation needed and packet too big are not limited, as in Linux, unless configured")
    func pathMTUErrors() {
        var limiter = ICMPRateLimiter(ICMPRateLimit(globalBurst: 10))
        let v4Host = IPv4Address(198, 18, 0, 1)
        for _ in 0..<100 {
            #expect(allowed(&limiter, .packetTooBig(mtu: 1280), host(1), at: 0, count: 1) == 1)
            #expect(allowed(&limiter, .packetTooBig(mtu: 1400), v4Host, at: 0, count: 1) == 1)
        }
        // They took no tokens: host(1) still has its burst and the global bucket its 10.
        #expect(allowed(&limiter, .timeExceeded, host(1), at: 0, count: 10) == 6)
        #expect(allowed(&limiter, .destinationUnreachable, v4Host, at: 0, count: 10) == 4)

        var strict = ICMPRateLimiter(ICMPRateLimit(limitsPathMTUErrors: true))
        #expect(allowed(&strict, .packetTooBig(mtu: 1280), host(1), at: 0, count: 10) == 6)
    }
}
