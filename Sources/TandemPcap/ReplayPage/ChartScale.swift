// Axis ticks a person reads at a glance: steps of 1, 2 or 5 times a power of ten, from zero to the first step at
// or above the largest value.

/// Ticks from 0 to at least `maximum`, about `count` of them, on a 1-2-5 step.
struct NiceTicks: Equatable {
    var step: Double
    var top: Double
    var values: [Double] { (0...Int((top / step).rounded())).map { Double($0) * step } }

    init(maximum: Double, count: Int = 5) {
        guard maximum > 0, maximum.isFinite else {
            step = 1
            top = 1
            return
        }
        let rough = maximum / Double(max(1, count))
        var magnitude = 1.0
        while magnitude * 10 <= rough { magnitude *= 10 }
        while magnitude > rough { magnitude /= 10 }
        let fraction = rough / magnitude
        step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude
        top = (maximum / step).rounded(.up) * step
    }

    /// Decimals enough to tell ticks apart (0 for whole steps).
    var decimals: Int {
        var decimals = 0
        var scaled = step
        while scaled < 1 && decimals < 9 {
            scaled *= 10
            decimals += 1
        }
        return decimals
    }
}
