// Hashing: ns per 512-token block for PrefixHasher against the raw XXH3 call over the same
// bytes, in the same run. One iteration hashes a 16K-token prompt (32 blocks); divide by 32
// for ns/block (scripts/run.py prints it).
import Benchmark
import CXXHashRaw
import KVCache

private let blocksPerPrompt = 32
private let prompt: [UInt32] = {
    var state: UInt64 = 1
    return (0..<(blocksPerPrompt * 512)).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt32(truncatingIfNeeded: state >> 33) % 152_064
    }
}()

/// Per iteration, the prompt's blocks hashed by `hash`, each seeded with the hash before: the
/// raw call's cost for the work `PrefixHasher` does.
@inline(__always)
private func chainBlocks(_ benchmark: Benchmark, _ hash: (UnsafeRawPointer, Int, UInt64) -> UInt64) {
    prompt.withUnsafeBytes { bytes in
        for _ in benchmark.scaledIterations {
            var h: UInt64 = 0
            for i in 0..<blocksPerPrompt { h = hash(bytes.baseAddress! + i * 2048, 2048, h) }
            blackHole(h)
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput],
        timeUnits: .nanoseconds,
        warmupIterations: 20,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    Benchmark("raw XXH3_64bits_withSeed (fastest entry) chained, 16K prompt") { benchmark in
        chainBlocks(benchmark) { raw_xxh3_seeded_fastest($0, $1, $2) }
    }

    Benchmark("raw XXH3_64bits_withSeed (portable SSE2) chained, 16K prompt") { benchmark in
        chainBlocks(benchmark) { XXH3_64bits_withSeed($0, $1, $2) }
    }

    let native = try! PrefixHasher()
    Benchmark("PrefixHasher native, 16K prompt") { benchmark in hashPrompt(benchmark, native) }

    Benchmark("PrefixHasher native blockHashes([UInt32]) allocating, 16K prompt") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(native.blockHashes(prompt).last)
        }
    }

    let dynamo = try! PrefixHasher(scheme: .dynamo)
    Benchmark("PrefixHasher dynamo, 16K prompt") { benchmark in hashPrompt(benchmark, dynamo) }
}

/// Per iteration, the prompt's chain by `hasher` into a reused buffer (no allocation).
private func hashPrompt(_ benchmark: Benchmark, _ hasher: PrefixHasher) {
    var out: [BlockHash] = []
    out.reserveCapacity(blocksPerPrompt)
    prompt.withUnsafeBufferPointer { tokens in
        for _ in benchmark.scaledIterations {
            out.removeAll(keepingCapacity: true)
            hasher.appendBlockHashes(of: tokens, to: &out)
            blackHole(out.last)
        }
    }
}
