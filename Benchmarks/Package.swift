// swift-tools-version:6.3
// The benchmark suite: its own package, depending on KVCache by path, so library users never
// resolve package-benchmark. Run from this folder:
//   swift package --disable-sandbox benchmark            (all)
//   python3 scripts/run.py                                (all, plus same-run ratios against peers)
import PackageDescription
import struct Foundation.URL

// A path dependency's identity is its folder's name, which depends on where the repository
// was cloned; read it instead of assuming it.
let parent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let kvcache = parent.lastPathComponent.lowercased()

let package = Package(
    name: "KVCacheBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The raw XXH3 baseline, over the same library but not through KVCache's shim.
        .systemLibrary(name: "CXXHashRaw", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .executableTarget(
            name: "Hashing",
            dependencies: [
                .product(name: "KVCache", package: kvcache),
                .product(name: "Benchmark", package: "benchmark"),
                "CXXHashRaw",
            ],
            path: "Benchmarks/Hashing",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Eviction",
            dependencies: [
                .product(name: "KVCache", package: kvcache),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Eviction",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Selection",
            dependencies: [
                .product(name: "KVCache", package: kvcache),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Selection",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Router",
            dependencies: [
                .product(name: "KVCache", package: kvcache),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Router",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
