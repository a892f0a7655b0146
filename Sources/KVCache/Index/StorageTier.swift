/// The level of a tiered KV cache a block lives in (vLLM/Dynamo's G1, G2, G3).
public enum StorageTier: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Accelerator memory (G1).
    case device = 0
    /// Host memory (G2).
    case host = 1
    /// Local or remote disk (G3).
    case disk = 2

    public var description: String {
        switch self {
        case .device: return "device"
        case .host: return "host"
        case .disk: return "disk"
        }
    }
}
