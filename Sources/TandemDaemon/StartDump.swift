// The watched table's dump at start, read on a thread of its own (tandem-dump) and learned by the control thread a
// chunk at a time as it comes. A full table's dump is a second of the kernel's time and the learning three more on
// the control thread: on two cores the two overlap, and the dump also overlaps the making of the devices, which
// comes between the start of the dump and the learning (Daemon.start).

import Synchronization
import TandemConfig
import TandemLinux

#if canImport(Glibc)
import Glibc
#endif

/// Where learning at start reads the watched table's routes, a chunk at a time.
protocol RouteChunks: AnyObject {
    /// The next routes, waiting for them if they are not read yet; nil at the end.
    func next() throws(SystemError) -> [KernelRoute]?
    /// At the end: whether the kernel's dump was consistent (the table did not change during the walk).
    var wasConsistent: Bool { get }
    /// Whether the kernel's walk is over: the chunks not taken yet are all read.
    var isRead: Bool { get }
}

/// The dump of the watched table at start, on the tandem-dump thread, in chunks of ``chunkSize`` routes.
final class StartDump: RouteChunks {
    /// Routes per chunk: a handover per few milliseconds of learning.
    static let chunkSize = 8192

    private enum Piece: Sendable {
        case routes([KernelRoute])
        case end(Result<Bool, SystemError>)
    }

    private let queue: HandoffQueue<Piece>
    private var taken: [Piece] = []
    private var end: Result<Bool, SystemError>?
    private var thread: pthread_t?

    /// Starts dumping `learning`'s table and protocols.
    ///
    /// - Throws: ``SystemError`` from `pipe` or `pthread_create`; nothing runs then.
    init(_ learning: GatewayConfig.Learning) throws(SystemError) {
        let queue = try HandoffQueue<Piece>()
        self.queue = queue
        thread = try SystemThread.start(name: "tandem-dump") {
            // Reading routes needs no privilege, so the thread keeps none.
            try? ProcessCapabilities.dropAllOfCallingThread()
            let only = WatchedTableDump.dumpProtocol(of: learning)
            let result = Result { () throws(SystemError) -> Bool in
                try RouteNetlink().routes(tables: [learning.table], protocol: only, chunkSize: Self.chunkSize) {
                    routes in
                    let learned = only == nil ? routes.filter { learning.protocols.contains($0.protocol) } : routes
                    if !learned.isEmpty { queue.put(.routes(learned)) }
                }
            }
            queue.put(.end(result))
            queue.finish()
        }
    }

    /// Waits for the thread if it still runs (it ends on its own when the dump does).
    deinit { join() }

    func next() throws(SystemError) -> [KernelRoute]? {
        while end == nil {
            if taken.isEmpty {
                guard let pieces = queue.take() else { break }
                taken = pieces.reversed()
            }
            switch taken.removeLast() {
            case .routes(let routes): return routes
            case .end(let result): end = result
            }
        }
        join()
        switch end {
        case .failure(let error)?: throw error
        case .success?: return nil
        case nil: throw SystemError(code: EPIPE, operation: "reading the dump at start (its thread ended early)")
        }
    }

    var wasConsistent: Bool {
        if case .success(let consistent)? = end { return consistent }
        return false
    }

    var isRead: Bool { queue.isFinished }

    private func join() {
        guard let thread else { return }
        pthread_join(thread, nil)
        self.thread = nil
    }
}
