// The control thread's event loop: one epoll instance, a table of handlers keyed by descriptor, and timers. Each
// turn waits until a descriptor is ready or the next timer is due, hands every ready descriptor to its handler,
// then fires the timers that are due. Handlers may register and deregister descriptors (their own included) and
// schedule or cancel timers while they run: every registration carries a generation in its epoll entry, so a
// ready entry left from a registration that is gone (or from a descriptor number reused in the same turn) is
// skipped, never handed to the wrong handler.

#if canImport(Glibc)
import Glibc
#endif

/// Handles the readiness of descriptors registered in an ``EventLoop``.
public protocol EventHandler: AnyObject {
    /// Handles `events` on `descriptor`, on the loop's thread. It may register and deregister descriptors (this
    /// one included) and schedule or cancel timers; it must not block.
    ///
    /// - Parameters:
    ///   - events: What the descriptor is ready for (among what it was registered for, errors and hang-ups).
    ///   - descriptor: The ready descriptor.
    ///   - loop: The loop that dispatches.
    func handle(_ events: EventLoop.Events, on descriptor: FileDescriptor, in loop: EventLoop)
}

/// An epoll instance with a handler per registered descriptor, and timers on an injected monotonic clock.
///
/// Used by one thread at a time. The loop holds its handlers (and timer actions) strongly until they are
/// deregistered (or fire, or are cancelled); a handler that keeps the loop should keep it weakly.
public final class EventLoop {
    /// What a descriptor is ready for.
    public typealias Events = EventPoll.Events

    /// A scheduled action, to cancel it.
    public struct Timer: Hashable, Sendable {
        fileprivate let id: UInt64
    }

    private enum Handler {
        case object(any EventHandler)
        case closure((Events) -> Void)
    }

    private struct Registration {
        var handler: Handler
        var events: Events
        let generation: UInt32
    }

    private struct Scheduled {
        let deadline: UInt64
        let action: () -> Void
    }

    private let poll: EventPoll
    private let clock: () -> UInt64
    private var registrations: [CInt: Registration] = [:]
    private var nextGeneration: UInt32 = 1
    private var timers: [UInt64: Scheduled] = [:]
    private var nextTimerID: UInt64 = 1
    private var dispatching = false

    /// Whether ``stop()`` was called since ``run()`` began.
    public private(set) var isStopped = false
    /// When the last wait of ``runOnce(timeoutMilliseconds:)`` ended (the clock's value): the caller measures a
    /// turn's work from it, without the wait.
    public private(set) var wokeAt: UInt64 = 0

    /// Makes a loop with its own epoll instance (close-on-exec).
    ///
    /// The corresponding C function is `epoll_create1`.
    ///
    /// - Parameters:
    ///   - capacity: How many ready descriptors one turn handles at most (more wait for the next turn).
    ///   - now: The monotonic clock, in nanoseconds, for timers and for the deadlines of what runs in the loop;
    ///     tests pass a clock they move themselves.
    /// - Throws: ``SystemError`` ("creating an epoll instance: Too many open files").
    public init(capacity: Int = 64, now: @escaping () -> UInt64 = EventLoop.systemNow) throws(SystemError) {
        poll = try EventPoll(capacity: capacity)
        clock = now
    }

    /// The system's monotonic clock in nanoseconds (the default clock of a loop).
    ///
    /// The corresponding C function is `clock_gettime` (CLOCK_MONOTONIC).
    public static func systemNow() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    /// The loop's clock now, in nanoseconds.
    public func now() -> UInt64 { clock() }

    // MARK: Descriptors

    /// Hands `descriptor`'s readiness for `events` to `handler` from now on (level-triggered).
    ///
    /// The corresponding C function is `epoll_ctl` (EPOLL_CTL_ADD).
    ///
    /// - Parameters:
    ///   - descriptor: An open descriptor not registered yet. Deregister it before closing it.
    ///   - events: What to wait for; errors and hang-ups are always reported.
    ///   - handler: Called on the loop's thread; held until the descriptor is deregistered.
    /// - Throws: ``SystemError`` ("adding file descriptor 7 to epoll instance 5: File exists").
    public func register(
        _ descriptor: FileDescriptor, for events: Events = .readable, handler: some EventHandler
    ) throws(SystemError) {
        try add(descriptor, events, .object(handler))
    }

    /// Hands `descriptor`'s readiness for `events` to `handle` from now on (level-triggered).
    ///
    /// The corresponding C function is `epoll_ctl` (EPOLL_CTL_ADD).
    ///
    /// - Parameters:
    ///   - descriptor: An open descriptor not registered yet. Deregister it before closing it.
    ///   - events: What to wait for; errors and hang-ups are always reported.
    ///   - handle: Called on the loop's thread with what the descriptor is ready for; held until the
    ///     descriptor is deregistered.
    /// - Throws: ``SystemError`` ("adding file descriptor 7 to epoll instance 5: File exists").
    public func register(
        _ descriptor: FileDescriptor, for events: Events = .readable, _ handle: @escaping (Events) -> Void
    ) throws(SystemError) {
        try add(descriptor, events, .closure(handle))
    }

    private func add(_ descriptor: FileDescriptor, _ events: Events, _ handler: Handler) throws(SystemError) {
        guard registrations[descriptor.rawValue] == nil else {
            throw SystemError(code: EEXIST, operation: "registering \(descriptor) in an event loop")
        }
        let generation = nextGeneration
        nextGeneration &+= 1
        if nextGeneration == 0 { nextGeneration = 1 }
        try poll.add(descriptor.rawValue, for: events, data: Self.tag(descriptor, generation))
        registrations[descriptor.rawValue] = Registration(handler: handler, events: events, generation: generation)
    }

    /// Waits for other `events` on a registered descriptor, with the same handler.
    ///
    /// The corresponding C function is `epoll_ctl` (EPOLL_CTL_MOD).
    ///
    /// - Throws: ``SystemError`` ("changing file descriptor 7 in epoll instance 5: ..."); ENOENT if `descriptor`
    ///   is not registered.
    public func setInterest(_ descriptor: FileDescriptor, to events: Events) throws(SystemError) {
        guard let registration = registrations[descriptor.rawValue] else {
            throw SystemError(code: ENOENT, operation: "changing \(descriptor), not registered in the event loop")
        }
        guard registration.events != events else { return }
        try poll.modify(descriptor.rawValue, for: events, data: Self.tag(descriptor, registration.generation))
        registrations[descriptor.rawValue]!.events = events
    }

    /// Stops handing `descriptor`'s readiness to its handler, and lets the handler go. Nothing happens if it is
    /// not registered. A ready entry of this turn that is not handled yet is dropped.
    ///
    /// The corresponding C function is `epoll_ctl` (EPOLL_CTL_DEL).
    ///
    /// - Throws: ``SystemError`` ("removing file descriptor 7 from epoll instance 5: Bad file descriptor") if
    ///   the descriptor was closed first (the loop forgets it all the same).
    public func deregister(_ descriptor: FileDescriptor) throws(SystemError) {
        guard registrations.removeValue(forKey: descriptor.rawValue) != nil else { return }
        try poll.remove(descriptor.rawValue)
    }

    /// Whether `descriptor` is registered.
    public func isRegistered(_ descriptor: FileDescriptor) -> Bool { registrations[descriptor.rawValue] != nil }

    /// What `descriptor` is registered for, or nil.
    public func interest(of descriptor: FileDescriptor) -> Events? { registrations[descriptor.rawValue]?.events }

    /// The registered descriptors, in no particular order.
    public var registeredDescriptors: [FileDescriptor] { registrations.keys.map(FileDescriptor.init(rawValue:)) }

    // MARK: Timers

    /// Calls `action` on the loop's thread in the first turn that ends at or after `deadline` (the loop's
    /// clock). An action may schedule and cancel timers; one scheduled for a time already past fires in the next
    /// turn, which then does not wait.
    ///
    /// - Returns: The timer, for ``cancel(_:)``.
    @discardableResult
    public func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> Timer {
        let id = nextTimerID
        nextTimerID += 1
        timers[id] = Scheduled(deadline: deadline, action: action)
        return Timer(id: id)
    }

    /// Forgets a timer that has not fired (nothing happens if it fired or was cancelled).
    public func cancel(_ timer: Timer) { timers[timer.id] = nil }

    /// The deadline of the next timer, if any.
    public var nextDeadline: UInt64? { timers.values.lazy.map(\.deadline).min() }

    // MARK: Running

    /// One turn: waits until a descriptor is ready, the next timer is due, or `timeoutMilliseconds` pass; hands
    /// each ready descriptor to its handler; fires the timers that are due.
    ///
    /// The corresponding C function is `epoll_wait`.
    ///
    /// - Parameter timeoutMilliseconds: How long to wait at most; 0 does not wait; -1 waits for a descriptor
    ///   or the next timer.
    /// - Returns: How many descriptors were handed to their handler.
    /// - Throws: ``SystemError`` ("waiting on epoll instance 5: ...").
    @discardableResult
    public func runOnce(timeoutMilliseconds: Int32 = -1) throws(SystemError) -> Int {
        precondition(!dispatching, "EventLoop.runOnce called from one of its own handlers")
        var timeout = timeoutMilliseconds
        if let deadline = nextDeadline {
            let now = clock()
            let untilDeadline =
                deadline <= now ? 0 : Int32(clamping: (deadline - now + 999_999) / 1_000_000)  // round up
            timeout = timeout < 0 ? untilDeadline : min(timeout, untilDeadline)
        }
        let ready = try poll.wait(timeoutMilliseconds: timeout)
        wokeAt = clock()
        dispatching = true
        defer { dispatching = false }
        var handled = 0
        for index in 0..<ready {
            let tag = poll.readyData(index)
            let descriptor = FileDescriptor(rawValue: CInt(bitPattern: UInt32(truncatingIfNeeded: tag)))
            // A registration made, changed or removed earlier in this turn may have made this entry stale.
            guard let registration = registrations[descriptor.rawValue],
                registration.generation == UInt32(truncatingIfNeeded: tag >> 32)
            else { continue }
            let events = poll.readyEvents(index).intersection(registration.events.union([.error, .hangUp]))
            guard !events.isEmpty else { continue }
            handled += 1
            switch registration.handler {
            case .object(let handler): handler.handle(events, on: descriptor, in: self)
            case .closure(let handle): handle(events)
            }
        }
        fireDueTimers()
        return handled
    }

    /// Runs turns until ``stop()`` is called (by a handler or a timer).
    ///
    /// - Throws: ``SystemError`` from a wait; the loop stays usable.
    public func run() throws(SystemError) {
        isStopped = false
        while !isStopped { try runOnce() }
    }

    /// Makes ``run()`` return once the current turn ends.
    public func stop() { isStopped = true }

    // MARK: Internals

    /// The timers due now, earliest first; those scheduled while they fire wait for the next turn.
    private func fireDueTimers() {
        guard !timers.isEmpty else { return }
        let now = clock()
        let due = timers.filter { $0.value.deadline <= now }.sorted {
            ($0.value.deadline, $0.key) < ($1.value.deadline, $1.key)
        }
        for (id, _) in due {
            // An earlier action may have cancelled it.
            guard let timer = timers.removeValue(forKey: id) else { continue }
            timer.action()
        }
    }

    /// The epoll tag of a registration: the generation above the descriptor.
    private static func tag(_ descriptor: FileDescriptor, _ generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(UInt32(bitPattern: descriptor.rawValue))
    }
}
