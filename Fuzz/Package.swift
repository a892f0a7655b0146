// swift-tools-version:6.0
// libFuzzer harnesses for KVCache's untrusted-input parsers, tokenizers and templates, in their own package so the main
// build never links libFuzzer. Build and run them with Fuzz/fuzz.sh.
import PackageDescription

let package = Package(
    name: "KVCacheFuzz",
    dependencies: [.package(name: "KVCache", path: "..")],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
        .executableTarget(name: "FuzzVLLMDecoder", dependencies: ["FuzzSupport", .product(name: "KVCacheZMQ", package: "KVCache"),
                                                                  .product(name: "KVCache", package: "KVCache")]),
        .executableTarget(name: "FuzzTraceReader", dependencies: ["FuzzSupport", .product(name: "KVCacheSim", package: "KVCache"),
                                                                  .product(name: "KVCache", package: "KVCache")]),
        .executableTarget(name: "FuzzPrefixIndex", dependencies: ["FuzzSupport", .product(name: "KVCache", package: "KVCache")]),
        .executableTarget(name: "FuzzTokenizer", dependencies: ["FuzzSupport", .product(name: "KVCacheTokenizers", package: "KVCache")]),
        .executableTarget(name: "FuzzTemplate", dependencies: ["FuzzSupport", .product(name: "KVCacheTemplates", package: "KVCache")]),
    ],
    swiftLanguageModes: [.v6]
)
