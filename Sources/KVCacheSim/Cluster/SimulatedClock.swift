/// The simulator's timeline: whole microseconds in `Int64`, with every conversion and sum
/// checked, so extreme timestamps or cost-model parameters end a run with an error naming the
/// request instead of trapping.
enum SimulatedClock {
    /// `seconds` as microseconds.
    /// - Throws: ``SimulationError`` when the value is not finite or does not fit.
    @inline(__always)
    static func micros(_ seconds: Double, request: Int) throws(SimulationError) -> Int64 {
        let us = (seconds * 1e6).rounded()
        guard let v = Int64(exactly: us) else { throw SimulationError(request: request, value: seconds) }
        return v
    }

    /// `a + b`.
    /// - Throws: ``SimulationError`` on overflow.
    @inline(__always)
    static func add(_ a: Int64, _ b: Int64, request: Int) throws(SimulationError) -> Int64 {
        let (s, o) = a.addingReportingOverflow(b)
        guard !o else { throw SimulationError(request: request, value: (Double(a) + Double(b)) / 1e6) }
        return s
    }
}

/// A simulated time that does not fit the simulator's clock (±292,000 years in microseconds).
public struct SimulationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The 1-based request at which the clock overflowed.
    public var request: Int
    /// The time that did not fit, in seconds.
    public var value: Double

    public var description: String {
        "request \(request): simulated time \(value) s does not fit the simulator's clock (±2^63 µs); "
            + "check the trace's timestamps and the cost-model parameters"
    }
}
