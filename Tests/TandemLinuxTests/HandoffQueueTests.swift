import Synchronization
import TandemLinux
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One thread puts, another takes as they come (waiting while there is nothing): everything arrives once, in
/// order, and the end after it.
@Suite struct HandoffQueueTests {
    @Test func everythingPutArrivesInOrderThenTheEnd() throws {
        let queue = try HandoffQueue<Int>()
        let count = 200_000
        let producer = try SystemThread.start(name: "test-producer") {
            for value in 0..<count {
                queue.put(value)
                // Now and then a pause, so that the taker finds the queue empty and waits.
                if value % 50_000 == 0 { usleep(20_000) }
            }
            queue.finish()
        }
        var taken: [Int] = []
        var takes = 0
        while let values = queue.take() {
            #expect(!values.isEmpty)
            taken += values
            takes += 1
        }
        pthread_join(producer, nil)
        #expect(taken == Array(0..<count))
        #expect(takes > 1)
        #expect(queue.take() == nil)
    }

    @Test func aQueueFinishedEmptyEndsAtOnce() throws {
        let queue = try HandoffQueue<String>()
        queue.finish()
        #expect(queue.take() == nil)
    }
}
