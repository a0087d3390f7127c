// Fuzz target 10: the line-oriented files Tandem reads: replay events (`ReplayEvent.parse`, `tandem replay
// --events`), route tables (`RouteTableData.load`: one CIDR prefix per line) and BGP update traces
// (`UpdateTrace.load`: `<unix time> <a|w> <prefix> <next hop>`).
//
// The first byte picks the parser, the rest is the file (written to a scratch file for the two dataset loaders,
// which read through zlib). What parses must be consistent: events sorted by time with their line numbers in the
// file, prefixes without host bits, one update per line at most; what fails must name a line of the file.

import FuzzSupport
import TandemDatasets
import TandemPacket
import TandemPcap

private let file = ScratchFile(suffix: ".txt")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let parser = input.choice(3)
    let text = input.takeRest()
    let lineCount = text.reduce(1) { $0 + ($1 == 10 ? 1 : 0) }
    switch parser {
    case 0: checkReplayEvents(String(decoding: text, as: UTF8.self))
    case 1: checkRouteTable(text, lineCount: lineCount)
    default: checkUpdateTrace(text, lineCount: lineCount)
    }
    return 0
}

private func checkReplayEvents(_ text: String) {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
    do {
        let events = try ReplayEvent.parse(text, file: "events")
        fuzzCheck(zip(events, events.dropFirst()).allSatisfy { $0.offset <= $1.offset }, "events out of order")
        for event in events {
            fuzzCheck((1...lines).contains(event.line), "event on line \(event.line) of \(lines)")
            _ = event.description
        }
    } catch {
        fuzzCheck((1...lines).contains(error.line), "error on line \(error.line) of \(lines)")
        fuzzCheck(!error.message.isEmpty, "an error without a message")
    }
}

private func checkRouteTable(_ bytes: UnsafeRawBufferPointer, lineCount: Int) {
    file.write(bytes)
    do {
        let table = try RouteTableData.load(path: file.path)
        fuzzCheck(table.ipv4.count + table.ipv6.count + table.skippedLines <= lineCount, "more prefixes than lines")
        fuzzCheck(table.normalized <= table.ipv4.count + table.ipv6.count, "normalized count")
        for prefix in table.ipv4 {
            fuzzCheck(IPv4Prefix(normalizing: prefix.address, length: prefix.length) == prefix, "host bits in \(prefix)")
        }
        for prefix in table.ipv6 {
            fuzzCheck(IPv6Prefix(normalizing: prefix.address, length: prefix.length) == prefix, "host bits in \(prefix)")
        }
    } catch let error as DatasetError {
        checkDatasetError(error, lineCount: lineCount)
    } catch {
        fatalError("fuzz check failed: the route table loader throws \(error), not a DatasetError")
    }
}

private func checkUpdateTrace(_ bytes: UnsafeRawBufferPointer, lineCount: Int) {
    file.write(bytes)
    do {
        let trace = try UpdateTrace.load(path: file.path)
        fuzzCheck(trace.updates.count <= lineCount, "more updates than lines")
        for update in trace.updates {
            let prefix = update.prefix
            fuzzCheck(IPv4Prefix(normalizing: prefix.address, length: prefix.length) == prefix, "host bits in \(prefix)")
        }
    } catch let error as DatasetError {
        checkDatasetError(error, lineCount: lineCount)
    } catch {
        fatalError("fuzz check failed: the update trace loader throws \(error), not a DatasetError")
    }
}

/// A dataset error names a line of the file and says what is wrong.
private func checkDatasetError(_ error: DatasetError, lineCount: Int) {
    if let line = error.line { fuzzCheck((0...lineCount).contains(line), "error on line \(line) of \(lineCount)") }
    fuzzCheck(!error.message.isEmpty, "an error without a message")
}
