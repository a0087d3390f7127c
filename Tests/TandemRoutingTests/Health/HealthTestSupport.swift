import TandemRouting

/// The instant `milliseconds` after the origin.
func ms(_ milliseconds: Int) -> MonotonicInstant { .zero + .milliseconds(milliseconds) }

/// A probe failure by timeout, the common case in these tests.
let failed = ProbeResult.failure(.timeout)
