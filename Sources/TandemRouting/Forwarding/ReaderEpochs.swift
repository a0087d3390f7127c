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
    private let used = Mutex<[Bool]>(Array(repeating: false, count: ReaderEpochs.capacity))

    public init() {
        observed = .allocate(capacity: Self.capacity)
        for index in 0..<Self.capacity { (observed + index).initialize(to: Atomic(0)) }
    }

    deinit { observed.deallocate() }

    /// A registered reader thread's handle.
    public struct Reader: Sendable {
        @usableFromInline let slot: Int
    }

    /// Registers a reader thread; it starts online. Returns nil when ``capacity`` readers are registered.
    public func register() -> Reader? {
        let slot = used.withLock { used -> Int? in
            guard let free = used.firstIndex(of: false) else { return nil }
            used[free] = true
            return free
        }
        guard let slot else { return nil }
        observed[slot].store(global.load(ordering: .acquiring), ordering: .releasing)
        return Reader(slot: slot)
    }

    /// Unregisters a reader; it must hold no pointer into the plane any more.
    public func unregister(_ reader: Reader) {
        observed[reader.slot].store(0, ordering: .releasing)
        used.withLock { $0[reader.slot] = false }
    }

    /// Announces that `reader` holds no pointer obtained before this call (call it between batches).
    @inlinable
    public func quiescent(_ reader: Reader) {
        observed[reader.slot].store(global.load(ordering: .acquiring), ordering: .releasing)
    }

    /// Announces that `reader` will not read the plane until ``online(_:)`` (call it before blocking).
    public func offline(_ reader: Reader) { observed[reader.slot].store(0, ordering: .releasing) }

    /// Announces that `reader` reads the plane again.
    public func online(_ reader: Reader) { quiescent(reader) }

    /// Writer: called after unlinking an object; returns the epoch after which it may be freed.
    func retire() -> UInt64 { global.add(1, ordering: .sequentiallyConsistent).newValue }

    /// Writer: every object retired at an epoch at or below this one is unreachable to readers.
    func safeEpoch() -> UInt64 {
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
