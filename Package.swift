// swift-tools-version:6.0
import PackageDescription

// Products of the dependencies that several targets use.
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let metrics: Target.Dependency = .product(name: "Metrics", package: "swift-metrics")
let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let nioPosix: Target.Dependency = .product(name: "NIOPosix", package: "swift-nio")
let prometheus: Target.Dependency = .product(name: "Prometheus", package: "swift-prometheus")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")

let package = Package(
    name: "KVCache",
    products: [
        .library(name: "KVCache", targets: ["KVCache"]),
        .library(name: "KVCacheSim", targets: ["KVCacheSim"]),
        .library(name: "KVCacheZMQ", targets: ["KVCacheZMQ"]),
        .library(name: "KVCacheTokenizers", targets: ["KVCacheTokenizers"]),
        .library(name: "KVCacheTemplates", targets: ["KVCacheTemplates"]),
        .library(name: "KVCacheGateway", targets: ["KVCacheGateway"]),
        .executable(name: "kvcache-sim", targets: ["kvcache-sim"]),
        .executable(name: "kvcache-listen", targets: ["kvcache-listen"]),
        .executable(name: "kvcache-gateway", targets: ["kvcache-gateway"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CKVCore",
            pkgConfig: "libxxhash",
            providers: [.apt(["libxxhash-dev"])]
        ),
        .target(
            name: "KVCache",
            dependencies: ["CKVCore", logging, metrics]
        ),
        .systemLibrary(
            name: "CMsgpack",
            pkgConfig: "msgpack",
            providers: [.apt(["libmsgpack-dev"])]
        ),
        // No pkgConfig: Debian's libzmq.pc lists -isystem flags SwiftPM prohibits (a warning);
        // zmq.h is in /usr/include and the modulemap links libzmq.
        .systemLibrary(
            name: "CZeroMQ",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(
            name: "KVCacheZMQ",
            dependencies: ["KVCache", "CMsgpack", "CZeroMQ", logging]
        ),
        .target(
            name: "KVCacheSim",
            dependencies: ["KVCache", logging]
        ),
        // What the command-line programs share: the selector flags and one-line errors.
        .target(
            name: "KVCacheCLI",
            dependencies: ["KVCache", argumentParser]
        ),
        .executableTarget(
            name: "kvcache-sim",
            dependencies: ["KVCache", "KVCacheCLI", "KVCacheSim", argumentParser, logging],
            // Most simulations are short, so loading the Swift runtime's shared libraries would
            // be a good part of each run: on Linux the runtime is linked in. The static
            // FoundationEssentials needs its two helper archives named; lld links it without the
            // GNU linker's note on a libc call inside it.
            linkerSettings: [
                .unsafeFlags(["-static-stdlib", "-use-ld=lld", "-l_FoundationCShims", "-l_FoundationCollections"], .when(platforms: [.linux]))
            ]
        ),
        // Live engines' KV-event streams, reported: apart from the simulator, which then never
        // loads ZeroMQ.
        .executableTarget(
            name: "kvcache-listen",
            dependencies: ["KVCache", "KVCacheCLI", "KVCacheSim", "KVCacheZMQ", argumentParser, logging]
        ),
        // Hugging Face tokenizers run in process: Foundation only, apart from the core.
        .target(name: "KVCacheTokenizers"),
        // Chat templates (a Jinja renderer with Hugging Face's environment) and model
        // directories: a chat request's token ids in process, as the engine computes them.
        .target(name: "KVCacheTemplates", dependencies: ["KVCacheTokenizers"]),
        // The KV-aware OpenAI-compatible gateway: its own module, so the core stays lean.
        .target(
            name: "KVCacheGateway",
            dependencies: [
                "KVCache", "KVCacheTemplates", "KVCacheTokenizers", "KVCacheZMQ",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                nioCore, nioPosix, serviceLifecycle, prometheus, logging, metrics,
            ]
        ),
        .executableTarget(
            name: "kvcache-gateway",
            dependencies: [
                "KVCache", "KVCacheCLI", "KVCacheGateway", "KVCacheTemplates", "KVCacheTokenizers",
                argumentParser, logging, metrics, nioCore, nioPosix, prometheus, serviceLifecycle,
            ]
        ),
        .executableTarget(name: "SelectorWiring", dependencies: ["KVCache"], path: "Examples/SelectorWiring"),
        .executableTarget(name: "ServingLoop", dependencies: ["KVCache"], path: "Examples/ServingLoop"),
        .executableTarget(name: "KVEventFlood", dependencies: ["CMsgpack", "CZeroMQ"], path: "Examples/KVEventFlood"),
        .executableTarget(name: "CustomSelector", dependencies: ["KVCache", "KVCacheSim"], path: "Examples/CustomSelector"),
        .testTarget(
            name: "KVCacheTests",
            dependencies: ["KVCache", metrics],
            exclude: ["Vectors"]
        ),
        .testTarget(
            name: "KVCacheZMQTests",
            dependencies: ["KVCacheZMQ", "KVCache"],
            exclude: ["Vectors", "publisher.py", "vllm_events.py", "engine.py"]
        ),
        .testTarget(name: "KVCacheSimTests", dependencies: ["KVCacheSim", "KVCache"]),
        .testTarget(
            name: "KVCacheTokenizersTests",
            dependencies: ["KVCacheTokenizers"],
            exclude: ["make_fixtures.py", "Fixtures"]
        ),
        .testTarget(
            name: "KVCacheTemplatesTests",
            dependencies: ["KVCacheTemplates", "KVCacheTokenizers"],
            exclude: ["make_fixtures.py", "Fixtures"]
        ),
        .testTarget(
            name: "KVCacheGatewayTests",
            dependencies: [
                "KVCacheGateway", "KVCache", "KVCacheTemplates", "KVCacheTokenizers",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), nioCore, nioPosix,
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            exclude: ["engine_double.py", "Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
