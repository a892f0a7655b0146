import FuzzSupport
import Glibc
import KVCache
import KVCacheSim

// Any bytes as a Mooncake trace: reading fails with an error naming line and field, or the
// trace replays through a pool, a cluster (with tiers and decode) and the statistics; nothing
// may crash.
let configuration = ClusterConfiguration(
    nodes: 2, capacity: 8, selector: .ttftMin, decodeSecondsPerToken: 0.01,
    hostCapacity: 4, replicaSamples: 2)
exit(
    runFuzzer { data, size in
        let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
        guard let trace = try? TraceReader(options: .init(blockSize: 16)).read(text: text) else { return 0 }
        _ = try? PoolReplay.run(trace, capacity: 4, policy: .lru)
        _ = try? ClusterSimulator.run(trace, configuration)
        _ = TraceStatistics(trace, top: 3)
        return 0
    })
