import Foundation
import Testing
import TandemLinux

@Suite struct EventPollTests {
    @Test func reportsTheReadyDescriptorAndNamesItsErrors() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { for end in ends { close(end) } }
        let poll = try EventPoll(capacity: 4)
        try poll.add(ends[0])
        #expect(try poll.wait(timeoutMilliseconds: 0) == 0)
        var byte: UInt8 = 1
        #expect(write(ends[1], &byte, 1) == 1)
        #expect(try poll.wait(timeoutMilliseconds: 1000) == 1)
        #expect(poll.readyDescriptor(0) == ends[0])
        #expect(poll.readyEvents(0) == .readable)

        let twice = try #require(throws: SystemError.self) { try poll.add(ends[0]) }
        #expect(
            twice.description
                == "adding file descriptor \(ends[0]) to epoll instance \(poll.fileDescriptor): File exists")
        try poll.remove(ends[0])
        #expect(try poll.wait(timeoutMilliseconds: 0) == 0)
    }
}
