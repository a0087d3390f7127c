import Testing
import TandemPacket
import TandemDatasets
@testable import TandemLPM

/// Compares `table` with `reference` on every address, through the single and the batch API.
func expectSameAnswers<Table: LPMTable>(
    _ table: Table, _ reference: ReferenceTable<Table.Prefix>, on addresses: [Table.Address],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var results = [UInt32](repeating: 0, count: addresses.count)
    addresses.withUnsafeBufferPointer { input in
        results.withUnsafeMutableBufferPointer { table.lookup(input, into: $0) }
    }
    var mismatches = 0
    for (index, address) in addresses.enumerated() {
        let expected = reference.lookup(address)
        let single = table.lookup(address)
        let batch = results[index] == Table.noMatch ? nil : results[index]
        if single != expected || batch != expected {
            mismatches += 1
            if mismatches <= 5 {
                Issue.record(
                    "\(address): table says \(String(describing: single)) (batch \(String(describing: batch))), reference \(String(describing: expected))",
                    sourceLocation: sourceLocation)
            }
        }
    }
    #expect(mismatches == 0, "\(mismatches) of \(addresses.count) lookups differ", sourceLocation: sourceLocation)
}

/// The node and leaf runs a table's trie has handed out and not taken back.
func liveArenaElements<Table: LPMTable>(_ table: Table) -> (nodes: Int, leaves: Int) {
    if let v4 = table as? IPv4Table { return (v4.trie.nodes.inUse, v4.trie.leaves.inUse) }
    if let v6 = table as? IPv6Table { return (v6.trie.nodes.inUse, v6.trie.leaves.inUse) }
    fatalError("unknown table type")
}

/// The full table from ../shared/data, or the synthetic one, loaded once for all tests.
let fullTable: RouteTableData = {
    do { return try RouteTableData.loadOrSynthesize() } catch { fatalError("loading the table: \(error)") }
}()
