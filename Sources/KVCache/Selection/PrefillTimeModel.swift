/// Estimates how long prefill takes on a node.
public protocol PrefillTimeModel: Sendable {
    /// Seconds to prefill `uncachedTokens` new tokens of a prompt whose first `cachedTokens`
    /// tokens are reused from cache.
    func prefillTime(uncachedTokens: Int, cachedTokens: Int) -> Double
}

extension PrefillTimeModel {
    /// Seconds to prefill a prompt of `inputTokens` tokens whose first `cachedBlocks` blocks
    /// of `blockSize` tokens are reused (the last block may be partial: at most the whole
    /// prompt counts as cached).
    @inlinable
    public func prefillTime(inputTokens: Int, cachedBlocks: Int, blockSize: Int) -> Double {
        let cached = min(cachedBlocks * blockSize, inputTokens)
        return prefillTime(uncachedTokens: inputTokens - cached, cachedTokens: cached)
    }
}

/// `base + perToken · uncached tokens` (the reference cluster model: 10 ms + 50 µs/token).
public struct LinearPrefillModel: PrefillTimeModel, Hashable {
    /// Fixed cost per request, seconds.
    public var base: Double
    /// Cost per uncached token, seconds.
    public var perToken: Double

    /// Creates a linear model (defaults: 10 ms + 50 µs per uncached token).
    public init(base: Double = 0.010, perToken: Double = 0.000_050) {
        self.base = base
        self.perToken = perToken
    }

    public func prefillTime(uncachedTokens: Int, cachedTokens: Int) -> Double {
        base + perToken * Double(uncachedTokens)
    }
}

/// `Σ cᵢ · uncachedⁱ` plus an attention term `a · uncached · cached` (cached context still
/// costs attention FLOPs); a better fit for long prompts than a line.
public struct PolynomialPrefillModel: PrefillTimeModel, Hashable {
    /// `c₀, c₁, c₂, …` in seconds per token power.
    public var coefficients: [Double]
    /// Seconds per (uncached × cached) token pair.
    public var cachedAttention: Double

    /// Creates a polynomial model.
    public init(coefficients: [Double], cachedAttention: Double = 0) {
        self.coefficients = coefficients
        self.cachedAttention = cachedAttention
    }

    public func prefillTime(uncachedTokens: Int, cachedTokens: Int) -> Double {
        let x = Double(uncachedTokens)
        var total = 0.0, power = 1.0
        for c in coefficients {
            total += c * power
            power *= x
        }
        return total + cachedAttention * x * Double(cachedTokens)
    }
}

/// How long moving KV blocks between nodes takes: `latency + blocks · bytesPerBlock / bandwidth`.
public struct KVTransferModel: Sendable, Hashable {
    /// Bytes of one block's KV (all layers).
    public var bytesPerBlock: Double
    /// Bytes per second between nodes.
    public var bandwidth: Double
    /// Fixed setup time, seconds.
    public var latency: Double

    /// Creates a transfer model (defaults: 512-token blocks of a 70B-class model, ~160 MB
    /// per block at FP16 with GQA, over 100 Gb/s RDMA with 1 ms setup).
    /// - Precondition: `bandwidth` is positive (infinite: transfers cost only `latency`);
    ///   `bytesPerBlock` and `latency` are finite and not negative, so a transfer time is a
    ///   number the selectors can compare.
    public init(bytesPerBlock: Double = 160e6, bandwidth: Double = 12.5e9, latency: Double = 0.001) {
        precondition(bandwidth > 0, "KVTransferModel: bandwidth \(bandwidth) is not a positive number")
        precondition(bytesPerBlock >= 0 && bytesPerBlock.isFinite, "KVTransferModel: bytesPerBlock \(bytesPerBlock) is not a number ≥ 0")
        precondition(latency >= 0 && latency.isFinite, "KVTransferModel: latency \(latency) is not a number ≥ 0")
        self.bytesPerBlock = bytesPerBlock
        self.bandwidth = bandwidth
        self.latency = latency
    }

    /// Seconds to move `blocks` blocks.
    public func transferTime(blocks: Int) -> Double {
        blocks <= 0 ? 0 : latency + Double(blocks) * bytesPerBlock / bandwidth
    }
}
