import Synchronization
import TandemLinux
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Work on a thread of its own, its result taken by joining it.
@Suite struct JoinableJobTests {
    /// The work runs beside the caller (it waits until the caller has gone on), on its own named thread, and wait()
    /// gives its result, as often as it is asked.
    @Test func theWorkRunsAsideAndWaitGivesItsResult() throws {
        let callerWentOn = Atomic<Bool>(false)
        let job = try JoinableJob(name: "test-aside") { () -> String in
            while !callerWentOn.load(ordering: .acquiring) { usleep(1000) }
            return SystemThread.callingThreadName
        }
        callerWentOn.store(true, ordering: .releasing)
        #expect(job.wait() == "test-aside")
        #expect(job.wait() == "test-aside")
    }

    /// A job dropped without a wait still ends before the caller goes on: its thread does not outlive it.
    @Test func aJobDroppedUnwaitedIsJoined() throws {
        let done = Atomic<Bool>(false)
        do {
            _ = try JoinableJob(name: "test-dropped") { () -> Int in
                usleep(50_000)
                done.store(true, ordering: .releasing)
                return 1
            }
        }
        let finished = done.load(ordering: .acquiring)
        #expect(finished)
    }
}
