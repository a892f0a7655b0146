/// Learns a node's prefill speed online from what a router sees: each request's time to first
/// token against the prefill work that stood before it.
///
/// The model is the one ``LinearPrefillModel`` states per request, summed over a queue: a
/// request that finds `n − 1` requests and `U − u` uncached tokens queued ahead of its own `u`
/// waits `base · n + perToken · U` seconds for its first token. Each observation is a point of
/// that plane; the estimate is the least-squares fit over recent points (each weight halves
/// every ``halfLife`` observations, so a node that slows down or speeds up is followed), held
/// near the starting model by two fixed pseudo-observations (a bare request, and one of
/// ``referenceTokens`` tokens), so that a few points, or points that all look alike, cannot
/// throw it far. Both coefficients stay ≥ 0.
///
/// ```swift
/// var speed = PrefillSpeedEstimator(prior: LinearPrefillModel(base: 0.010, perToken: 50e-6))
/// speed.observe(seconds: 0.031, requests: 2, tokens: 2_048)
/// let model = speed.model          // what this node's prefills take now
/// ```
public struct PrefillSpeedEstimator: Sendable, Hashable {
    /// The starting model, which the fit is held toward.
    public let prior: LinearPrefillModel
    /// Observations after which an observation's weight has halved.
    public let halfLife: Double
    /// Uncached tokens of the prior's second pseudo-observation.
    public let referenceTokens: Double
    /// Weight of each pseudo-observation, in observations.
    public let priorWeight: Double
    /// Observations taken so far.
    public private(set) var observations = 0
    /// The current estimate.
    public private(set) var model: LinearPrefillModel

    // Decayed sums of the observations: Σw·n², Σw·n·U, Σw·U², Σw·n·T, Σw·U·T.
    private var nn = 0.0, nu = 0.0, uu = 0.0, nt = 0.0, ut = 0.0
    private let decay: Double

    /// The longest time to first token taken as an observation; longer ones (a stalled engine,
    /// a clock jump) are dropped.
    public static let maximumSeconds = 3_600.0

    /// Creates an estimator that starts at `prior`.
    /// - Parameters:
    ///   - prior: The starting model (the configured speed).
    ///   - halfLife: Observations after which an observation's weight halves (at least 1).
    ///   - referenceTokens: Tokens of the prior's long pseudo-request (at least 1).
    ///   - priorWeight: How many observations each pseudo-observation weighs (≥ 0).
    public init(prior: LinearPrefillModel, halfLife: Double = 256, referenceTokens: Double = 1_024, priorWeight: Double = 1) {
        self.prior = LinearPrefillModel(
            base: max(0, prior.base.isFinite ? prior.base : 0), perToken: max(0, prior.perToken.isFinite ? prior.perToken : 0))
        self.halfLife = max(1, halfLife.isFinite ? halfLife : 256)
        self.referenceTokens = max(1, referenceTokens.isFinite ? referenceTokens : 1_024)
        self.priorWeight = max(0, priorWeight.isFinite ? priorWeight : 1)
        decay = _exp(-0.693_147_180_559_945_3 / self.halfLife)
        model = self.prior
    }

    /// Takes one request's time to first token.
    /// - Parameters:
    ///   - seconds: From dispatch to the first response byte.
    ///   - requests: Requests that prefilled before or with it, itself included (≥ 1).
    ///   - tokens: Their uncached tokens, its own included.
    /// - Complexity: O(1).
    public mutating func observe(seconds: Double, requests: Int, tokens: Int) {
        guard seconds.isFinite, seconds >= 0, seconds <= Self.maximumSeconds, requests >= 1, tokens >= 0 else { return }
        let n = Double(requests), u = Double(tokens), t = seconds
        nn = nn * decay + n * n
        nu = nu * decay + n * u
        uu = uu * decay + u * u
        nt = nt * decay + n * t
        ut = ut * decay + u * t
        observations += 1
        model = fit()
    }

    /// The least-squares fit of the decayed observations and the two pseudo-observations.
    private func fit() -> LinearPrefillModel {
        let w = priorWeight, r = referenceTokens
        // pseudo-observations: (n 1, U 0, T base₀) and (n 1, U r, T base₀ + perToken₀ · r)
        let a11 = nn + 2 * w, a12 = nu + w * r, a22 = uu + w * r * r
        let b1 = nt + w * (2 * prior.base + prior.perToken * r)
        let b2 = ut + w * r * (prior.base + prior.perToken * r)
        let det = a11 * a22 - a12 * a12
        guard det > 1e-12 * a11 * a22, det.isFinite else { return model }
        var base = (b1 * a22 - a12 * b2) / det
        var perToken = (a11 * b2 - a12 * b1) / det
        // the best fit with the coefficient that went negative held at 0
        if perToken < 0 {
            perToken = 0
            base = max(0, b1 / a11)
        } else if base < 0 {
            base = 0
            perToken = max(0, b2 / a22)
        }
        guard base.isFinite, perToken.isFinite else { return model }
        return LinearPrefillModel(base: base, perToken: perToken)
    }
}
