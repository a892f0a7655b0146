import KVCache
import Testing

@testable import KVCacheSim

@Suite("Lower tiers: hit ratios that add up")
struct TierTests {
    static func run(host: Int, disk: Int, selector: SelectorPolicy) throws -> ClusterResult {
        try ClusterSimulator.run(
            SimFixtures.conversation,
            ClusterConfiguration(nodes: 4, capacity: 500, selector: selector, hostCapacity: host, diskCapacity: disk))
    }

    @Test(
        "each ratio bounds its device-only one, and prefix ≤ block in both",
        arguments: [SelectorPolicy.roundRobin, .cacheAware, .ttftMin])
    func inequalities(selector: SelectorPolicy) throws {
        for (host, disk) in [(0, 0), (1_000, 0), (1_000, 3_000)] {
            let r = try Self.run(host: host, disk: disk, selector: selector)
            let label = "\(selector) host \(host) disk \(disk)"
            #expect(r.devicePrefixHitRatio <= r.deviceBlockHitRatio, "\(label)")
            #expect(r.devicePrefixHitRatio <= r.prefixHitRatio, "\(label)")
            #expect(r.deviceBlockHitRatio <= r.blockHitRatio, "\(label)")
            #expect(r.prefixHitRatio <= r.blockHitRatio, "\(label)")
            if host == 0 {
                #expect(r.deviceBlockHitRatio == r.blockHitRatio && r.devicePrefixHitRatio == r.prefixHitRatio, "\(label)")
            }
        }
    }

    @Test("routing that ignores the cache: the device sees the same hits, each lower tier adds to them")
    func tiersAdd() throws {
        let device = try Self.run(host: 0, disk: 0, selector: .roundRobin)
        let host = try Self.run(host: 1_000, disk: 0, selector: .roundRobin)
        let disk = try Self.run(host: 1_000, disk: 3_000, selector: .roundRobin)
        #expect(host.deviceBlockHitRatio == device.blockHitRatio && disk.deviceBlockHitRatio == device.blockHitRatio)
        #expect(host.devicePrefixHitRatio == device.prefixHitRatio && disk.devicePrefixHitRatio == device.prefixHitRatio)
        #expect(device.blockHitRatio < host.blockHitRatio && host.blockHitRatio < disk.blockHitRatio)
        #expect(device.prefixHitRatio < host.prefixHitRatio && host.prefixHitRatio < disk.prefixHitRatio)
    }
}
