// Quiescent-state-based reclamation (QSBR) for objects the fast path reads without locks.
//
// The forwarding plane keeps most of its state in fixed arenas that are never freed (see ForwardingPlane),
// but some state is an immutable object replaced as a whole: the policy classifier. A reader may hold a
// pointer to the old object for as long as it takes to finish its batch, so the writer may free it only when
// every reader has passed a point where it holds no such pointer (a quiescent state: between two batches, or
// while blocked waiting for packets). Readers announce those points with one relaxed store; the writer never
// waits: it frees what all readers have passed the next time it changes something.

import Synchronization

/// The epochs of the threads that read the forwarding plane, for deferred freeing of replaced objects.
public final class ReaderEpochs: @unchecked Sendable {
    /// How many reader threads may register at once.
    public static let capacity = 64

    /// Incremented by the writer each time it retires an object.
    @usableFromInline let global = Atomic<UInt64>(1)
    /// Per reader: the global epoch it saw at its last quiescent point, or 0 while offline or unused.
    @usableFromInline let observed: UnsafeMutablePointer<Atomic<UInt64>>
    /// Per slot: whether a reader holds it. Claimed with a compare-and-exchange, not under a lock: Swift's
    /// `Mutex` on Linux waits in a futex that ThreadSanitizer cannot see, so two threads registering at once
    /// looked like a data race on the slot list (tools/lib/check-sanitizers); atomics it sees.
    private let used: UnsafeMutablePointer<Atomic<Bool>>

    public init() {
        observed = .allocate(capacity: Self.capacity)
        used = .allocate(capacity: Self.capacity)
        for index in 0..<Self.capacity {
            (observed + index).initialize(to: Atomic(0))
            (used + index).initialize(to: Atomic(false))
        }
    }

    deinit {
        observed.deallocate()
        used.deallocate()
    }

    /// A registered reader thread's handle.
    public struct Reader: Sendable {
        @usableFromInline let slot: Int
    }

    /// Registers a reader thread; it starts online. Returns nil when ``capacity`` readers are registered.
    public func register() -> Reader? {
        for slot in 0..<Self.capacity {
            guard used[slot].compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
                continue
            }
            let reader = Reader(slot: slot)
            online(reader)
            return reader
        }
        return nil
    }

    /// Unregisters a reader; it must hold no pointer into the plane any more.
    public func unregister(_ reader: Reader) {
        observed[reader.slot].store(0, ordering: .releasing)
        used[reader.slot].store(false, ordering: .releasing)
    }

    /// Announces that `reader` holds no pointer obtained before this call (call it between batches).
    @inlinable
    public func quiescent(_ reader: Reader) {
        observed[reader.slot].store(global.load(ordering: .acquiring), ordering: .releasing)
    }

    /// Announces that `reader` will not read the plane until ``online(_:)`` (call it before blocking).
    public func offline(_ reader: Reader) { observed[reader.slot].store(0, ordering: .releasing) }

    /// Announces that `reader` reads the plane again.
    ///
    /// Unlike ``quiescent(_:)`` this needs a full fence: the store that makes the reader visible must be ordered
    /// before the reader's next load of a pointer, or (a store followed by a load, which even x86 reorders) the
    /// writer could still see the reader offline, free the object it replaced, while the reader loads the old pointer.
    /// The writer's side of the pair is the fence in ``safeEpoch()``. A quiescent reader needs no fence: it was
    /// already online with an older epoch, which holds back anything retired after it.
    public func online(_ reader: Reader) {
        observed[reader.slot].store(global.load(ordering: .acquiring), ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }

    /// Writer: called after unlinking an object; returns the epoch after which it may be freed.
    func retire() -> UInt64 { global.add(1, ordering: .sequentiallyConsistent).newValue }

    /// Writer: every object retired at an epoch at or below this one is unreachable to readers.
    func safeEpoch() -> UInt64 {
        // Orders the caller's unlinking of the object before the loads of the readers' epochs (see ``online(_:)``).
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        var safe = UInt64.max
        for slot in 0..<Self.capacity {
            let seen = observed[slot].load(ordering: .acquiring)
            if seen != 0 { safe = min(safe, seen) }
        }
        return safe
    }
}

/// Objects waiting for readers to pass a quiescent state, freed (released) once they have.
final class RetiredObjects {
    private var waiting: [(epoch: UInt64, object: AnyObject)] = []

    /// Keeps `object` alive until every reader has passed `epoch`.
    func add(_ object: AnyObject, epoch: UInt64) { waiting.append((epoch, object)) }

    /// Releases what no reader can reach any more.
    func reclaim(_ epochs: ReaderEpochs) {
        guard !waiting.isEmpty else { return }
        let safe = epochs.safeEpoch()
        waiting.removeAll { $0.epoch <= safe }
    }

    var count: Int { waiting.count }
}
