/// Why a request was not placed.
public enum Rejection: Sendable, Hashable, CustomStringConvertible {
    /// The best estimated TTFT exceeds the SLO.
    case sloExceeded(estimatedTTFT: Double, slo: Double)
    /// No node is available.
    case noAvailableNode

    public var description: String {
        switch self {
        case .sloExceeded(let t, let slo): return "estimated TTFT \(t) s exceeds the SLO \(slo) s"
        case .noAvailableNode: return "no node is available"
        }
    }
}
