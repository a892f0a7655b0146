/// What a cached block is worth to a router, by the fastest tier a node holds it in: a block on
/// the device is used as it is, one in host memory or on disk must be brought back first.
///
/// ``OverlapScores/score(of:)`` weighs a node's leading blocks by these; the defaults are
/// device 1, host 0.75, disk 0.25.
public struct TierWeights: Sendable, Hashable {
    /// Weight of a block held on the device (G1).
    public var device: Double
    /// Weight of a block held in host memory (G2) and not on the device.
    public var host: Double
    /// Weight of a block held only on disk (G3).
    public var disk: Double

    /// Creates weights (device 1, host 0.75, disk 0.25 unless told otherwise).
    /// - Precondition: Every weight is finite and not negative, so scores stay comparable.
    public init(device: Double = 1, host: Double = 0.75, disk: Double = 0.25) {
        precondition(
            [device, host, disk].allSatisfy { $0.isFinite && $0 >= 0 },
            "TierWeights: weights must be finite and not negative (device \(device), host \(host), disk \(disk))")
        self.device = device
        self.host = host
        self.disk = disk
    }

    /// The weight of `tier`.
    public subscript(tier: StorageTier) -> Double {
        switch tier {
        case .device: return device
        case .host: return host
        case .disk: return disk
        }
    }
}
