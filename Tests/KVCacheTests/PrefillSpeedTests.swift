import Testing

@testable import KVCache

@Suite("Learned prefill speed")
struct PrefillSpeedTests {
    /// Times to first token of a node that takes `base` per request and `perToken` per
    /// uncached token, for random queues, with ±`noise` relative jitter.
    func observations(base: Double, perToken: Double, count: Int, noise: Double, seed: UInt64) -> [(Double, Int, Int)] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let n = 1 + Int(g.next() % 6)
            let u = Int(g.next() % 8_000)
            let jitter = 1 + noise * (Double(g.next() % 2_001) / 1_000 - 1)
            return ((base * Double(n) + perToken * Double(u)) * jitter, n, u)
        }
    }

    @Test("the fit finds a node's base and per-token time from noisy observations, far from the prior")
    func converges() {
        var e = PrefillSpeedEstimator(prior: LinearPrefillModel(base: 0.010, perToken: 50e-6))
        #expect(e.model == e.prior)
        for (t, n, u) in observations(base: 0.002, perToken: 10e-6, count: 600, noise: 0.1, seed: 1) {
            e.observe(seconds: t, requests: n, tokens: u)
        }
        #expect(e.observations == 600)
        #expect(abs(e.model.base - 0.002) < 0.0005, "\(e.model)")
        #expect(abs(e.model.perToken - 10e-6) < 1e-6, "\(e.model)")
    }

    @Test("a node that slows down is followed within a few half-lives")
    func follows() {
        var e = PrefillSpeedEstimator(prior: LinearPrefillModel(base: 0.002, perToken: 10e-6), halfLife: 50)
        for (t, n, u) in observations(base: 0.002, perToken: 10e-6, count: 300, noise: 0, seed: 2) {
            e.observe(seconds: t, requests: n, tokens: u)
        }
        for (t, n, u) in observations(base: 0.004, perToken: 40e-6, count: 400, noise: 0, seed: 3) {
            e.observe(seconds: t, requests: n, tokens: u)
        }
        #expect(abs(e.model.perToken - 40e-6) < 2e-6, "\(e.model)")
        #expect(abs(e.model.base - 0.004) < 0.001, "\(e.model)")
    }

    @Test("points that all look alike stay near the prior; impossible ones are dropped; coefficients stay ≥ 0")
    func robust() {
        let prior = LinearPrefillModel(base: 0.010, perToken: 50e-6)
        var same = PrefillSpeedEstimator(prior: prior)
        for _ in 0..<100 { same.observe(seconds: 0.06, requests: 1, tokens: 1_000) }
        // one line through (1, 1000, 0.06): the prior's two pseudo-points pick the point on it
        #expect(abs(same.model.prefillTime(uncachedTokens: 1_000, cachedTokens: 0) - 0.06) < 0.002)
        #expect(same.model.base >= 0 && same.model.perToken >= 0)
        var bad = PrefillSpeedEstimator(prior: prior)
        for t in [Double.nan, -1, .infinity, 1e9] { bad.observe(seconds: t, requests: 1, tokens: 10) }
        bad.observe(seconds: 0.1, requests: 0, tokens: 10)
        bad.observe(seconds: 0.1, requests: 1, tokens: -5)
        #expect(bad.observations == 0 && bad.model == prior)
        var fast = PrefillSpeedEstimator(prior: prior)
        // times that fall as tokens grow would fit a negative slope: it is held at 0
        for k in 0..<200 { fast.observe(seconds: 0.05 - Double(k % 10) * 0.004, requests: 1, tokens: (k % 10) * 500) }
        #expect(fast.model.perToken >= 0 && fast.model.base >= 0)
    }

    @Test("ttft-min weighs each node at its own learned speed")
    func selectorUsesNodeSpeed() {
        var s = TTFTMin(prefillModel: LinearPrefillModel(base: 0.010, perToken: 50e-6))
        let request = RoutingRequest(chain: (0..<8).map { BlockHash(UInt64($0 + 1)) }, inputTokens: 8 * 512, arrival: 0)
        // node 0 holds half the prompt but is 20x slower per token; node 1 holds nothing
        var nodes = [NodeState(id: 0), NodeState(id: 1)]
        let overlaps = OverlapScores(depths: [4, 0], chainLength: 8)
        #expect(s.select(request, nodes: nodes, overlaps: overlaps).node == 0)
        nodes[0].prefillModel = LinearPrefillModel(base: 0.002, perToken: 200e-6)
        nodes[1].prefillModel = LinearPrefillModel(base: 0.002, perToken: 10e-6)
        #expect(s.select(request, nodes: nodes, overlaps: overlaps).node == 1)
        let (ttft, _) = s.estimate(request, nodes[1], depth: 0, best: nil)
        #expect(abs(ttft - (0.002 + 10e-6 * 4_096)) < 1e-12)
    }

    @Test("the router learns from start to first token, and queue delays use the learned speed")
    func routerLearns() async throws {
        // A sleep lasts at least its duration, however busy the machine: requests that take
        // 20 ms or more must pull a prior of a microsecond per request up.
        let prior = LinearPrefillModel(base: 1e-6, perToken: 1e-9)
        let router = KVRouter(configuration: .init(prefillModel: prior, learnsPrefillSpeed: true))
        router.addNode(0)
        #expect(router.snapshot.nodes[0].prefillModel == prior)
        for id in 0..<20 as Range<UInt64> {
            router.requestStarted(id: id, node: 0, promptTokens: 100)
            try await Task.sleep(for: .milliseconds(20))
            router.prefillFinished(id: id)
            router.requestFinished(id: id)
        }
        let speed = try #require(router.prefillSpeeds[0])
        #expect(speed.observations == 20)
        #expect(speed.model.prefillTime(uncachedTokens: 100, cachedTokens: 0) > 0.01, "\(speed.model)")
        #expect(router.snapshot.nodes[0].prefillModel == speed.model)
        router.requestStarted(id: 99, node: 0, promptTokens: 100)
        let delay = router.snapshot.nodes[0].queueDelay
        #expect(abs(delay - speed.model.prefillTime(uncachedTokens: 100, cachedTokens: 0)) < 1e-9)
        // a request that fails before its first token teaches nothing and leaves no queue
        router.requestFinished(id: 99)
        #expect(router.prefillSpeeds[0]?.observations == 20)
        #expect(router.snapshot.nodes[0].queuedPrefillTokens == 0)
    }
}
