// When a paced replay (`tandem replay --speed real` or a factor) hands each record to the pipeline, in wall-clock
// nanoseconds after the replay started. Records are timed one after the other, not against the first record: a
// record stamped earlier than the one before it (a capture not quite in order, or merged from two clocks) is due at
// once, and a silence longer than the maximum gap is shortened to it, so neither can trap on an overflow or sleep
// without end.

/// The wall-clock schedule of a paced replay.
struct ReplayPacing {
    /// The latest capture time seen so far; nil before the first record.
    private var lastCaptureTime: UInt64?
    /// When the record at `lastCaptureTime` was due, in nanoseconds after the start.
    private var lastDue: Int64 = 0

    /// When the record stamped `captureTime` is due: the previous record's due time plus the gap between them
    /// divided by `factor` (more than 1 is faster than real time), at most `maximumGap`, never negative.
    mutating func due(of captureTime: UInt64, factor: Double, maximumGap: UInt64) -> Int64 {
        guard let last = lastCaptureTime else {
            lastCaptureTime = captureTime
            return 0
        }
        guard captureTime > last else { return lastDue }
        let gap = min(Double(captureTime - last) / factor, Double(min(maximumGap, UInt64(Int64.max / 2))))
        lastCaptureTime = captureTime
        lastDue = lastDue &+ Int64(gap.isFinite ? gap : 0)
        return lastDue
    }
}
