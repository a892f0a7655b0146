// swift-tools-version:6.3
// The benchmark suite: its own package, depending on KVCache by path, so library users never
// resolve package-benchmark. Run from this folder:
//   python3 scripts/run.py                                (all, plus same-run ratios against the peers)
//   swift package --disable-sandbox benchmark --target Eviction
import PackageDescription
import struct Foundation.URL

// A path dependency's identity is its folder's name, which depends on where the repository
// was cloned; read it instead of assuming it.
let parent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let kvcache = parent.lastPathComponent.lowercased()

/// A package-benchmark executable in `Benchmarks/<name>`.
func benchmark(_ name: String, _ extra: [Target.Dependency] = []) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            .product(name: "KVCache", package: kvcache),
            .product(name: "Benchmark", package: "benchmark"),
        ] + extra,
        path: "Benchmarks/\(name)",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

let package = Package(
    name: "KVCacheBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
    ],
    targets: [
        // The raw XXH3 baseline, over the same library but not through KVCache's shim.
        .systemLibrary(name: "CXXHashRaw", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        benchmark("Hashing", ["CXXHashRaw"]),
        benchmark("Eviction"),
        benchmark("Selection"),
        benchmark("Router", [.product(name: "KVCacheZMQ", package: kvcache)]),
        benchmark("Simulation", [.product(name: "KVCacheSim", package: kvcache)]),
        benchmark("Tokenizers", [.product(name: "KVCacheTokenizers", package: kvcache)]),
        benchmark("Templates", [.product(name: "KVCacheTemplates", package: kvcache)]),
        // One proxied request, in process: the gateway's own allocations and time per request.
        benchmark(
            "Gateway",
            [
                .product(name: "KVCacheGateway", package: kvcache),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),
        // The gateway's libraries with nothing of its own: the floor scripts/gateway.py measures.
        .executableTarget(
            name: "passthrough",
            dependencies: [
                .product(name: "KVCacheGateway", package: kvcache),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Passthrough"
        ),
    ],
    swiftLanguageModes: [.v6]
)
