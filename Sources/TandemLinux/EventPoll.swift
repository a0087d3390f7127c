// Waiting for many file descriptors at once (epoll): the event loop's one blocking call. The ready list goes into
// a buffer allocated with the poll, so waiting allocates nothing.

import CTandemLinux

#if canImport(Glibc)
import Glibc
#endif

/// An epoll instance with room for the events of one wait, open for as long as this object lives.
///
/// Used by one thread at a time.
public final class EventPoll {
    /// What a file descriptor is ready for, or what happened to it.
    public struct Events: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32

        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// There is something to read (EPOLLIN).
        public static let readable = Events(rawValue: EPOLLIN.rawValue)
        /// There is room to write (EPOLLOUT).
        public static let writable = Events(rawValue: EPOLLOUT.rawValue)
        /// An error is pending (EPOLLERR; always reported).
        public static let error = Events(rawValue: EPOLLERR.rawValue)
        /// The other end hung up (EPOLLHUP; always reported).
        public static let hangUp = Events(rawValue: EPOLLHUP.rawValue)
    }

    /// The epoll file descriptor.
    public let fileDescriptor: CInt
    /// How many ready file descriptors one wait reports at most.
    public let capacity: Int
    private let ready: UnsafeMutablePointer<epoll_event>

    /// Makes an epoll instance (close-on-exec).
    ///
    /// The corresponding C function is `epoll_create1`.
    ///
    /// - Parameter capacity: How many ready file descriptors one ``wait(timeoutMilliseconds:)`` reports at most.
    /// - Throws: ``SystemError`` ("creating an epoll instance: ...").
    public init(capacity: Int = 64) throws(SystemError) {
        precondition(capacity >= 1 && capacity <= Int(Int32.max))
        fileDescriptor = try valueOrErrno("creating an epoll instance") { epoll_create1(CInt(EPOLL_CLOEXEC)) }
        self.capacity = capacity
        ready = .allocate(capacity: capacity)
        ready.initialize(repeating: epoll_event(), count: capacity)
    }

    deinit {
        close(fileDescriptor)
        ready.deallocate()
    }

    /// Watches `descriptor` for `events` (level-triggered).
    ///
    /// The corresponding C function is `epoll_ctl` (EPOLL_CTL_ADD).
    ///
    /// - Parameters:
    ///   - descriptor: A file descriptor, e.g. a ``TunQueue/fileDescriptor``.
    ///   - events: What to wait for.
    /// - Throws: ``SystemError`` ("adding file descriptor 7 to epoll instance 5: File exists").
    public func add(_ descriptor: CInt, for events: Events = .readable) throws(SystemError) {
        // The tag's low 32 bits are what `data.fd` reads back (epoll_data is a union; Linux on x86-64 and arm64 is
        // little-endian).
        try add(descriptor, for: events, data: UInt64(UInt32(bitPattern: descriptor)))
    }

    /// Watches `descriptor` for `events` (level-triggered) and tags its entries with `data` instead of the
    /// descriptor: read it back with ``readyData(_:)`` (an ``EventLoop`` puts a registration's generation there).
    ///
    /// The corresponding C function is `epoll_ctl` (EPOLL_CTL_ADD).
    ///
    /// - Throws: ``SystemError`` ("adding file descriptor 7 to epoll instance 5: File exists").
    public func add(_ descriptor: CInt, for events: Events, data: UInt64) throws(SystemError) {
        try control(EPOLL_CTL_ADD, descriptor, events, data, "adding file descriptor \(descriptor) to")
    }

    /// Watches `descriptor`, already added, for other `events`, with the entry tag `data`.
    ///
    /// The corresponding C function is `epoll_ctl` (EPOLL_CTL_MOD).
    ///
    /// - Throws: ``SystemError`` ("changing file descriptor 7 in epoll instance 5: No such file or directory").
    public func modify(_ descriptor: CInt, for events: Events, data: UInt64) throws(SystemError) {
        try control(EPOLL_CTL_MOD, descriptor, events, data, "changing file descriptor \(descriptor) in")
    }

    /// `epoll_ctl(operation)` for `descriptor` with `events` and the tag `data`; the error says "`what` epoll
    /// instance N".
    private func control(_ operation: CInt, _ descriptor: CInt, _ events: Events, _ data: UInt64, _ what: String)
        throws(SystemError)
    {
        var event = epoll_event()
        event.events = events.rawValue
        event.data.u64 = data
        _ = try valueOrErrno("\(what) epoll instance \(fileDescriptor)") {
            epoll_ctl(fileDescriptor, operation, descriptor, &event)
        }
    }

    /// Stops watching `descriptor`.
    ///
    /// The corresponding C function is `epoll_ctl` (EPOLL_CTL_DEL).
    ///
    /// - Parameter descriptor: A file descriptor added with ``add(_:for:)``.
    /// - Throws: ``SystemError`` ("removing file descriptor 7 from epoll instance 5: No such file or directory").
    public func remove(_ descriptor: CInt) throws(SystemError) {
        var event = epoll_event()
        _ = try valueOrErrno("removing file descriptor \(descriptor) from epoll instance \(fileDescriptor)") {
            epoll_ctl(fileDescriptor, EPOLL_CTL_DEL, descriptor, &event)
        }
    }

    /// Waits until at least one watched file descriptor is ready, or the timeout passes; then
    /// ``readyDescriptor(_:)`` and ``readyEvents(_:)`` tell which and for what. Allocates nothing.
    ///
    /// The corresponding C function is `epoll_wait`.
    ///
    /// - Parameter timeoutMilliseconds: How long to wait at most; 0 does not wait, -1 waits for ever.
    /// - Returns: How many file descriptors are ready (0 after a timeout), at most ``capacity``.
    /// - Throws: ``SystemError`` ("waiting on epoll instance 5: ...").
    public func wait(timeoutMilliseconds: Int32) throws(SystemError) -> Int {
        Int(
            try valueOrErrno("waiting on epoll instance \(fileDescriptor)") {
                epoll_wait(fileDescriptor, ready, CInt(capacity), timeoutMilliseconds)
            })
    }

    /// The file descriptor of ready entry `index` (below what ``wait(timeoutMilliseconds:)`` returned).
    public func readyDescriptor(_ index: Int) -> CInt {
        precondition(index >= 0 && index < capacity)
        return ready[index].data.fd
    }

    /// The tag of ready entry `index`, for a descriptor added with ``add(_:for:data:)``.
    public func readyData(_ index: Int) -> UInt64 {
        precondition(index >= 0 && index < capacity)
        return ready[index].data.u64
    }

    /// What ready entry `index` is ready for.
    public func readyEvents(_ index: Int) -> Events {
        precondition(index >= 0 && index < capacity)
        return Events(rawValue: ready[index].events)
    }
}
