// Sorting a million elements on the thread that times the health checks, without holding it: the array is sorted
// one run of `runLength` elements per step (a few milliseconds each), then read out in order by merging the runs
// as the reader asks. `show routes` over a full table uses it, one step per turn of the control thread's loop.

/// An array sorted a slice at a time, then read in order.
struct SlicedSort<Element> {
    /// Elements per run: sorting one takes a few milliseconds even for IPv6 prefixes.
    static var runLength: Int { 32_768 }

    private var elements: [Element]
    private let areInIncreasingOrder: (Element, Element) -> Bool
    /// The runs, as ranges of `elements`; the first `sortedRuns` are sorted.
    private let runs: [Range<Int>]
    private var sortedRuns = 0
    /// Merging: the next unread index of each run.
    private var heads: [Int]

    init(_ elements: [Element], by areInIncreasingOrder: @escaping (Element, Element) -> Bool) {
        self.elements = elements
        self.areInIncreasingOrder = areInIncreasingOrder
        runs = stride(from: 0, to: elements.count, by: Self.runLength).map {
            $0..<min($0 + Self.runLength, elements.count)
        }
        heads = runs.map(\.lowerBound)
    }

    /// How many elements there are.
    var count: Int { elements.count }

    /// Whether every run is sorted, so that ``next()`` can be called.
    var isSorted: Bool { sortedRuns == runs.count }

    /// Sorts one more run; does nothing once all are.
    mutating func sortNextRun() {
        guard !isSorted else { return }
        elements[runs[sortedRuns]].sort(by: areInIncreasingOrder)
        sortedRuns += 1
    }

    /// The smallest element not yet read, or nil after the last (every run must be sorted: ``isSorted``).
    mutating func next() -> Element? {
        precondition(isSorted, "SlicedSort.next() before every run is sorted")
        var best: Int?
        for run in runs.indices where heads[run] < runs[run].upperBound {
            if let current = best, !areInIncreasingOrder(elements[heads[run]], elements[heads[current]]) { continue }
            best = run
        }
        guard let best else { return nil }
        defer { heads[best] += 1 }
        return elements[heads[best]]
    }
}
