// The traffic of a replay over capture time, for the report page (`tandem replay --report`): packets per egress
// and drops in 10 ms bins from the first packet, and the moments something changed (a what-if event, a tunnel's
// health, a connection's selected tunnel). Counting is an array increment per packet; the arrays grow by
// amortised appends as capture time moves on, and a capture longer than `maximumBins` bins doubles the bin width
// (adjacent bins merged) instead of growing further, so memory stays bounded however long the capture is.

/// Packets per egress and drops per bin of capture time, and the marks of what changed.
public struct EgressTimeline: Sendable {
    /// Something that changed at a capture time: what the chart marks on its time axis and the events table lists.
    public struct Mark: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable {
            /// An event of the `--events` file ("tunnel a1 down").
            case whatIf = "what-if"
            /// A connection's selected tunnel changed ("to-cloud: a1 -> a2 (active tunnel down)").
            case selection
            /// A tunnel's health or hold-down changed; listed, not drawn (it repeats the what-if event).
            case health
        }

        /// Nanoseconds after the first packet.
        public var offset: UInt64
        public var kind: Kind
        public var text: String

        public init(offset: UInt64, kind: Kind, text: String) {
            self.offset = offset
            self.kind = kind
            self.text = text
        }
    }

    /// The width of a bin until the capture outgrows `maximumBins` of them.
    public static let defaultBinNanoseconds: UInt64 = 10_000_000
    /// 8,192 bins of 10 ms: 82 s of capture at full resolution; a chart 1,000 pixels wide shows no more anyway.
    public static let defaultMaximumBins = 8192

    public let egressNames: [String]
    /// Capture time of the start of bin 0 (the first packet); nil until a packet is counted or it is set.
    public private(set) var start: UInt64?
    public private(set) var binNanoseconds: UInt64
    public let maximumBins: Int
    /// Packets forwarded per egress (same order as `egressNames`) per bin.
    public private(set) var packets: [[Int]]
    /// Packets dropped per bin (whatever the reason).
    public private(set) var drops: [Int] = []
    /// In the order they happened.
    public private(set) var marks: [Mark] = []
    /// The capture times [low, high) of the bin the last packet counted in, and its index: packets come mostly in
    /// time order, so most find their bin by two comparisons instead of a division.
    private var cachedLow: UInt64 = 1
    private var cachedHigh: UInt64 = 0
    private var cachedBin = 0

    public init(
        egressNames: [String], binNanoseconds: UInt64 = defaultBinNanoseconds, maximumBins: Int = defaultMaximumBins
    ) {
        precondition(binNanoseconds > 0 && maximumBins >= 2)
        self.egressNames = egressNames
        self.binNanoseconds = binNanoseconds
        self.maximumBins = maximumBins
        packets = Array(repeating: [], count: egressNames.count)
    }

    /// The number of bins: up to the last one anything was counted in, the same for every series.
    public var binCount: Int { drops.count }

    /// Capture time after the first packet that the bins cover.
    public var span: UInt64 { UInt64(binCount) &* binNanoseconds }

    /// Sets the capture time of bin 0 (the replay's first packet), before anything is counted.
    public mutating func begin(at time: UInt64) {
        if start == nil { start = time }
    }

    /// One packet forwarded into egress `index` at capture time `time`.
    @inline(__always)
    public mutating func countForwarded(egress index: Int, at time: UInt64) {
        let bin = self.bin(of: time)
        packets[index][bin] &+= 1
    }

    /// One packet dropped at capture time `time`.
    @inline(__always)
    public mutating func countDrop(at time: UInt64) {
        let bin = self.bin(of: time)
        drops[bin] &+= 1
    }

    /// Makes the bins reach capture time `time` (the last packet, forwarded or not), so the chart ends there.
    public mutating func extend(through time: UInt64) {
        _ = bin(of: time)
    }

    /// Something changed at capture time `time` (before the first packet counts as 0).
    public mutating func mark(_ kind: Mark.Kind, _ text: String, at time: UInt64) {
        let origin = start ?? time
        marks.append(Mark(offset: time > origin ? time - origin : 0, kind: kind, text: text))
    }

    /// The bin of `time`, with every series long enough to hold it. A packet earlier than the first one (a
    /// capture not quite in order) counts in bin 0.
    @inline(__always)
    private mutating func bin(of time: UInt64) -> Int {
        if time >= cachedLow && time < cachedHigh { return cachedBin }
        if start == nil { start = time }
        let offset = time > start! ? time - start! : 0
        var bin = offset / binNanoseconds
        if bin >= UInt64(drops.count) {
            while bin >= UInt64(maximumBins) {
                coarsen()
                bin = offset / binNanoseconds
            }
            grow(to: Int(bin) + 1)
        }
        if time >= start! {
            cachedLow = start! &+ bin &* binNanoseconds
            cachedHigh = cachedLow &+ binNanoseconds
            cachedBin = Int(bin)
        }
        return Int(bin)
    }

    /// Every series `count` bins long (zeros appended).
    private mutating func grow(to count: Int) {
        let more = count - drops.count
        guard more > 0 else { return }
        drops.append(contentsOf: repeatElement(0, count: more))
        for index in packets.indices { packets[index].append(contentsOf: repeatElement(0, count: more)) }
    }

    /// Doubles the bin width: bins 2k and 2k+1 become bin k.
    private mutating func coarsen() {
        func merge(_ series: [Int]) -> [Int] {
            stride(from: 0, to: series.count, by: 2).map { series[$0] &+ ($0 + 1 < series.count ? series[$0 + 1] : 0) }
        }
        binNanoseconds &*= 2
        cachedHigh = 0  // the cached bin is no longer one
        drops = merge(drops)
        for index in packets.indices { packets[index] = merge(packets[index]) }
    }
}
