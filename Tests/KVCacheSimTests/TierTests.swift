import KVCache
import Testing

@testable import KVCacheSim

@Suite("Lower tiers: hit ratios that add up")
struct TierTests {
    static func run(host: Int, disk: Int, selector: SelectorPolicy, onboardSeconds: Double = 0.002) throws -> ClusterResult {
        try ClusterSimulator.run(
            SimFixtures.conversation,
            ClusterConfiguration(
                nodes: 4, capacity: 500, selector: selector, hostCapacity: host, diskCapacity: disk,
                hostOnboardSecondsPerBlock: onboardSeconds))
    }

    @Test(
        "each ratio bounds its device-only one, and prefix ≤ block in both",
        arguments: [SelectorPolicy.roundRobin, .cacheAware, .ttftMin])
    func inequalities(selector: SelectorPolicy) throws {
        for (host, disk) in [(0, 0), (1_000, 0), (1_000, 3_000)] {
            let r = try Self.run(host: host, disk: disk, selector: selector)
            let label = "\(selector) host \(host) disk \(disk)"
            #expect(r.hits.devicePrefixHitRatio <= r.hits.deviceBlockHitRatio, "\(label)")
            #expect(r.hits.devicePrefixHitRatio <= r.hits.prefixHitRatio, "\(label)")
            #expect(r.hits.deviceBlockHitRatio <= r.hits.blockHitRatio, "\(label)")
            #expect(r.hits.prefixHitRatio <= r.hits.blockHitRatio, "\(label)")
            if host == 0 {
                #expect(
                    r.hits.deviceBlockHitRatio == r.hits.blockHitRatio && r.hits.devicePrefixHitRatio == r.hits.prefixHitRatio, "\(label)")
            }
        }
    }

    @Test("routing that ignores the cache: the device sees the same hits, each lower tier adds to them")
    func tiersAdd() throws {
        let device = try Self.run(host: 0, disk: 0, selector: .roundRobin)
        let host = try Self.run(host: 1_000, disk: 0, selector: .roundRobin)
        let disk = try Self.run(host: 1_000, disk: 3_000, selector: .roundRobin)
        #expect(host.hits.deviceBlockHitRatio == device.hits.blockHitRatio && disk.hits.deviceBlockHitRatio == device.hits.blockHitRatio)
        #expect(
            host.hits.devicePrefixHitRatio == device.hits.prefixHitRatio && disk.hits.devicePrefixHitRatio == device.hits.prefixHitRatio)
        #expect(device.hits.blockHitRatio < host.hits.blockHitRatio && host.hits.blockHitRatio < disk.hits.blockHitRatio)
        #expect(device.hits.prefixHitRatio < host.hits.prefixHitRatio && host.hits.prefixHitRatio < disk.hits.prefixHitRatio)
    }

    @Test("ttft-min counts onboarding: a host tier slower than prefill costs nothing, a fast one helps")
    func onboardingInTTFTMin() throws {
        let device = try Self.run(host: 0, disk: 0, selector: .ttftMin)
        // 512-token blocks prefill in 25.6 ms each: 50 ms onboarding never pays
        let slow = try Self.run(host: 2_000, disk: 0, selector: .ttftMin, onboardSeconds: 0.050)
        #expect(slow.ttft.mean <= device.ttft.mean + 1e-9)
        #expect(slow.onboardedBlocks == 0)
        let fast = try Self.run(host: 2_000, disk: 0, selector: .ttftMin, onboardSeconds: 0.0001)
        #expect(fast.ttft.mean < device.ttft.mean && fast.onboardedBlocks > 0)
    }

    @Test("the service-time estimate onboards or recomputes the lower tiers' blocks, whichever is faster")
    func serviceTime() {
        let request = RoutingRequest(chain: Array(repeating: BlockHash(1), count: 10), inputTokens: 5_120, blockSize: 512)
        let model = LinearPrefillModel()
        func prefill(_ blocks: Int) -> Double { model.prefillTime(uncachedTokens: 5_120 - 512 * blocks, cachedTokens: 512 * blocks) }
        let free = TTFTMin()
        #expect(free.serviceTime(request, depth: 8, deviceDepth: 2) == prefill(8))
        let cheap = TTFTMin(onboardSecondsPerBlock: 0.001)
        #expect(abs(cheap.serviceTime(request, depth: 8, deviceDepth: 2) - (prefill(8) + 0.006)) < 1e-12)
        let dear = TTFTMin(onboardSecondsPerBlock: 1)
        #expect(dear.serviceTime(request, depth: 8, deviceDepth: 2) == prefill(2))
        #expect(dear.serviceTime(request, depth: 4, deviceDepth: 4) == prefill(4))
    }
}
