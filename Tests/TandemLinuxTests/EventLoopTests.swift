import Glibc
import TandemLinux
import Testing

/// A clock the test moves.
final class TestClock {
    var nanoseconds: UInt64 = 1_000_000_000

    func advance(milliseconds: UInt64) { nanoseconds += milliseconds * 1_000_000 }
}

/// Counts the readiness it is handed.
final class CountingHandler: EventHandler {
    var calls: [(EventLoop.Events, FileDescriptor)] = []

    func handle(_ events: EventLoop.Events, on descriptor: FileDescriptor, in loop: EventLoop) {
        calls.append((events, descriptor))
    }
}

extension EventLoop {
    /// Lets every handler go (a handler that captured the loop would keep it alive).
    func deregisterAll() {
        for descriptor in registeredDescriptors { try? deregister(descriptor) }
    }
}

/// Writes one byte (the test's pipes and socket pairs have room).
func poke(_ descriptor: FileDescriptor) throws {
    var byte: UInt8 = 1
    let written = try withUnsafeBytes(of: &byte) { (bytes) throws(SystemError) in try descriptor.write(bytes) }
    #expect(written == 1)
}

@Suite struct EventLoopTests {
    @Test func handsEachReadyDescriptorToItsHandler() throws {
        let first = try FileDescriptor.pipe()
        let second = try FileDescriptor.pipe()
        defer { for end in [first.readEnd, first.writeEnd, second.readEnd, second.writeEnd] { try? end.close() } }
        let loop = try EventLoop(capacity: 4)
        var closureEvents: [EventLoop.Events] = []
        try loop.register(first.readEnd) { closureEvents.append($0) }
        let object = CountingHandler()
        try loop.register(second.readEnd, handler: object)
        #expect(try loop.runOnce(timeoutMilliseconds: 0) == 0)

        try poke(first.writeEnd)
        try poke(second.writeEnd)
        #expect(try loop.runOnce(timeoutMilliseconds: 1000) == 2)
        #expect(closureEvents == [.readable])
        #expect(object.calls.count == 1 && object.calls[0].0 == .readable && object.calls[0].1 == second.readEnd)

        let twice = try #require(throws: SystemError.self) { try loop.register(first.readEnd) { _ in } }
        #expect(twice.description == "registering \(first.readEnd) in an event loop: File exists")
        try loop.deregister(first.readEnd)
        try loop.deregister(first.readEnd)  // not registered: nothing happens
        #expect(!loop.isRegistered(first.readEnd) && loop.isRegistered(second.readEnd))
        #expect(loop.registeredDescriptors == [second.readEnd])
    }

    /// Two ready descriptors whose handlers each remove the other, close it, and put a new descriptor (probably
    /// with the same number) in its place: the entry left in the turn's ready list goes to no one.
    @Test func aHandlerMayRemoveAnotherReadyDescriptorAndReuseItsNumber() throws {
        let first = try FileDescriptor.pipe()
        let second = try FileDescriptor.pipe()
        var open = [first.readEnd, first.writeEnd, second.readEnd, second.writeEnd]
        defer { for end in open { try? end.close() } }
        let loop = try EventLoop(capacity: 4)
        defer { loop.deregisterAll() }
        var handled: [String] = []
        var replacementCalls = 0
        func replace(_ victim: FileDescriptor) {
            try? loop.deregister(victim)
            try? victim.close()
            open.removeAll { $0 == victim }
            // An empty pipe: never ready in this turn, so any call would come from the stale entry.
            guard let fresh = try? FileDescriptor.pipe() else { return }
            open += [fresh.readEnd, fresh.writeEnd]
            try? loop.register(fresh.readEnd) { _ in replacementCalls += 1 }
        }
        try loop.register(first.readEnd) { _ in
            handled.append("first")
            replace(second.readEnd)
        }
        try loop.register(second.readEnd) { _ in
            handled.append("second")
            replace(first.readEnd)
        }
        try poke(first.writeEnd)
        try poke(second.writeEnd)
        #expect(try loop.runOnce(timeoutMilliseconds: 1000) == 1)
        #expect(handled.count == 1)
        #expect(replacementCalls == 0)
        #expect(try loop.runOnce(timeoutMilliseconds: 0) == 1)  // the survivor is still readable
        #expect(replacementCalls == 0)
    }

    @Test func aHandlerMayRemoveItselfAndAddOthers() throws {
        let pipe = try FileDescriptor.pipe()
        let other = try FileDescriptor.pipe()
        defer { for end in [pipe.readEnd, pipe.writeEnd, other.readEnd, other.writeEnd] { try? end.close() } }
        let loop = try EventLoop(capacity: 4)
        defer { loop.deregisterAll() }
        var calls = 0
        var otherCalls = 0
        try loop.register(pipe.readEnd) { _ in
            calls += 1
            try? loop.deregister(pipe.readEnd)
            try? loop.register(other.readEnd) { _ in otherCalls += 1 }
        }
        try poke(pipe.writeEnd)
        try poke(other.writeEnd)
        #expect(try loop.runOnce(timeoutMilliseconds: 1000) == 1)
        #expect(calls == 1 && otherCalls == 0)
        // Still readable, but no longer registered; the new one is.
        #expect(try loop.runOnce(timeoutMilliseconds: 1000) == 1)
        #expect(calls == 1 && otherCalls == 1)
    }

    @Test func interestChanges() throws {
        let (one, two) = try FileDescriptor.socketPair()
        defer {
            try? one.close()
            try? two.close()
        }
        let loop = try EventLoop(capacity: 4)
        var seen: [EventLoop.Events] = []
        try loop.register(one) { seen.append($0) }
        #expect(try loop.runOnce(timeoutMilliseconds: 0) == 0)
        try loop.setInterest(one, to: .writable)
        #expect(loop.interest(of: one) == .writable)
        #expect(try loop.runOnce(timeoutMilliseconds: 1000) == 1)
        #expect(seen == [.writable])
        let missing = try #require(throws: SystemError.self) { try loop.setInterest(two, to: .readable) }
        #expect(missing.code == ENOENT)
    }

    @Test func timersFireInOrderOnTheLoopsClock() throws {
        let clock = TestClock()
        let loop = try EventLoop(capacity: 4, now: { clock.nanoseconds })
        let start = clock.nanoseconds
        var fired: [String] = []
        loop.schedule(at: start + 100_000_000) { fired.append("100 ms") }
        loop.schedule(at: start + 50_000_000) { fired.append("50 ms") }
        let cancelled = loop.schedule(at: start + 60_000_000) { fired.append("cancelled") }
        loop.schedule(at: start + 70_000_000) { [unowned loop] in
            fired.append("70 ms")
            // Already due: fires in the next turn, not in this one.
            loop.schedule(at: start) { fired.append("rescheduled") }
        }
        #expect(loop.nextDeadline == start + 50_000_000)
        loop.cancel(cancelled)
        try loop.runOnce(timeoutMilliseconds: 0)
        #expect(fired.isEmpty)
        clock.advance(milliseconds: 80)
        try loop.runOnce(timeoutMilliseconds: 0)
        #expect(fired == ["50 ms", "70 ms"])
        try loop.runOnce(timeoutMilliseconds: 1000)  // does not wait: a timer is due
        #expect(fired == ["50 ms", "70 ms", "rescheduled"])
        clock.advance(milliseconds: 20)
        try loop.runOnce(timeoutMilliseconds: 0)
        #expect(fired == ["50 ms", "70 ms", "rescheduled", "100 ms"])
        #expect(loop.nextDeadline == nil)
    }

    /// With the system clock, a wait without a timeout ends at the next timer.
    @Test func aWaitEndsAtTheNextTimer() throws {
        let loop = try EventLoop(capacity: 4)
        var fired = false
        loop.schedule(at: loop.now() + 20_000_000) { fired = true }
        while !fired { try loop.runOnce() }
    }

    @Test func runUntilStopped() throws {
        let pipe = try FileDescriptor.pipe()
        defer {
            try? pipe.readEnd.close()
            try? pipe.writeEnd.close()
        }
        let loop = try EventLoop(capacity: 4)
        var turns = 0
        try loop.register(pipe.readEnd) { [unowned loop] _ in
            turns += 1
            if turns == 3 { loop.stop() }
        }
        try poke(pipe.writeEnd)
        try loop.run()
        #expect(turns == 3 && loop.isStopped)
    }
}
