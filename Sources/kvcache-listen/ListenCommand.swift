import ArgumentParser
import Dispatch
import KVCache
import KVCacheCLI
import KVCacheSim
import KVCacheZMQ
import Logging

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvcache-listen",
        abstract: "Subscribe to engines' KV-event streams (vLLM over ZeroMQ) and report live.",
        discussion: """
            Each --endpoint is ADDRESS[,replay=ADDRESS][,node=N][,bind]: the engine's PUB
            address, its replay ROUTER (to fill gaps), the node its events belong to
            (default: its position), and 'bind' when the engine connects to us.

            Events feed a KVRouter exactly as a serving router would: every stored block is
            re-hashed from its tokens with --block-size (the engines' block size). With
            --probe FILE (one prompt per line: comma-separated token ids, optionally
            prefixed lora=NAME:), the final JSON says how many leading blocks of each prompt
            every node holds: does the router see the engines' caches?

            Prints a line per second until interrupted (or --duration seconds); --format
            json prints the final summary. Examples:
              kvcache-listen \\
                --endpoint tcp://127.0.0.1:5557,replay=tcp://127.0.0.1:5558
              kvcache-listen --endpoint tcp://10.0.0.5:5557,node=0 \\
                --endpoint tcp://10.0.0.6:5557,node=1 --duration 60 --format json \\
                --probe prompts.txt
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json }

    @Option(help: "An engine endpoint: ADDRESS[,replay=ADDRESS][,node=N][,bind]. Repeat for several.")
    var endpoint: [String] = []

    @Option(help: "SUB topic prefix.")
    var topic: String = ""

    @Option(help: "Tokens per KV block, as the engines use (vLLM's default is 16).")
    var blockSize: Int = 16

    @Option(
        help: ArgumentHelp(
            "A file of prompts (one per line: token ids, optionally 'lora=NAME:' first) to look up at the end.", valueName: "file"))
    var probe: String?

    @Option(help: ArgumentHelp("Stop after this many seconds (default: until interrupted).", valueName: "seconds"))
    var duration: Double?

    @Option(help: "Output: table (live lines) or json (the final summary).")
    var format: Format = .table

    /// The largest node id `listen` takes.
    static let maximumNode = 4095

    func run() throws {
        guard !endpoint.isEmpty else { throw CLIError("give at least one --endpoint ADDRESS[,replay=ADDRESS][,node=N][,bind]") }
        guard (1...65_536).contains(blockSize) else { throw CLIError("--block-size \(blockSize): expected a whole number in 1...65536") }
        if let duration, !(duration.isFinite && duration > 0 && duration <= 31_536_000) {
            throw CLIError("--duration \(duration): expected seconds in (0, 31536000]")
        }
        let endpoints = try endpoint.enumerated().map { try Self.parse($0.element, position: $0.offset) }
        let probes = try probe.map { try Probe.read($0) } ?? []
        let nodes = Array(Set(endpoints.map(\.node))).sorted()
        let hasher = try PrefixHasher(blockSize: blockSize)
        var logger = Logger(label: "kvcache.listen")
        logger.logLevel = .notice
        let router = KVRouter(configuration: .init(hasher: hasher, nodeCapacity: (nodes.last ?? 0) + 1, logger: logger))
        for n in nodes { router.addNode(n) }
        var config = EngineEventSubscriber.Configuration()
        config.topic = topic
        let subscriber = EngineEventSubscriber(endpoints: endpoints, configuration: config, router: router)
        do { try subscriber.start() } catch { throw CLIError(error.description) }
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let stopped = DispatchSemaphore(value: 0)
        interrupt.setEventHandler { stopped.signal() }
        interrupt.resume()
        let start = ContinuousClock.now
        var last = subscriber.statistics
        var lastTime = start
        while true {
            let waited = stopped.wait(timeout: .now() + 1)
            let now = ContinuousClock.now
            let s = subscriber.statistics
            if format == .table {
                let rate = Double(s.events - last.events) / max((now - lastTime) / .seconds(1), 1e-9)
                let blocks = nodes.map { "n\($0)=\(router.indexedBlocks(of: $0))" }.joined(separator: " ")
                let elapsed = (fixed((now - start) / .seconds(1), 1) + "s").rightAligned(7)
                writeStandardOutput(
                    elapsed + "  " + fixed(rate, 0).rightAligned(9)
                        + " events/s  blocks \(blocks)  gaps \(s.gaps)  replayed \(s.replayedBatches)  lost \(s.lostRanges)  malformed \(s.malformed)\n"
                )
            }
            last = s
            lastTime = now
            if waited == .success { break }
            if let duration, (now - start) / .seconds(1) >= duration { break }
        }
        subscriber.stop()
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        let summary = Summary(seconds: seconds, statistics: subscriber.statistics, router: router, nodes: nodes, probes: probes)
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            writeStandardOutput(String(decoding: try encoder.encode(summary), as: UTF8.self) + "\n")
        case .table:
            for p in summary.probes {
                print("probe line \(p.line): " + p.overlaps.map { "n\($0.node)=\($0.blocks)" }.joined(separator: " ") + " leading blocks")
            }
        }
    }

    static func parse(_ text: String, position: Int) throws -> EngineEventSubscriber.Endpoint {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let address = parts.first, address.contains("://") else {
            throw CLIError("--endpoint '\(text)': expected ADDRESS[,replay=ADDRESS][,node=N][,bind], e.g. tcp://127.0.0.1:5557")
        }
        var e = EngineEventSubscriber.Endpoint(address: address, node: position)
        for p in parts.dropFirst() {
            if p == "bind" {
                e.mode = .bind
            } else if p.hasPrefix("replay=") {
                e.replayAddress = String(p.dropFirst(7))
            } else if p.hasPrefix("node=") {
                guard let n = Int(p.dropFirst(5)), (0...maximumNode).contains(n) else {
                    throw CLIError("--endpoint '\(text)': node must be a whole number in 0...\(maximumNode)")
                }
                e.node = n
            } else {
                throw CLIError("--endpoint '\(text)': unknown part '\(p)'")
            }
        }
        return e
    }
}

/// One prompt of a `--probe` file.
struct Probe {
    var line: Int
    var adapter: String?
    var tokens: [UInt32]

    /// Reads one prompt per line: `[lora=NAME:]t1,t2,…`; blank lines and lines starting
    /// with `#` are skipped (line numbers stay the file's).
    static func read(_ path: String) throws -> [Probe] {
        var out: [Probe] = []
        for (i, raw) in try readText(path).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty || text.hasPrefix("#") { continue }
            var body = Substring(text)
            var adapter: String?
            if body.hasPrefix("lora=") {
                guard let colon = body.firstIndex(of: ":") else {
                    throw CLIError("\(path):\(i + 1): expected lora=NAME: before the token ids")
                }
                adapter = String(body[body.index(body.startIndex, offsetBy: 5)..<colon])
                guard adapter?.isEmpty == false else { throw CLIError("\(path):\(i + 1): empty adapter name in lora=NAME:") }
                body = body[body.index(after: colon)...]
            }
            do throws(TokenList.ParseError) {
                out.append(Probe(line: i + 1, adapter: adapter, tokens: try TokenList.parse(String(body), source: path)))
            } catch {
                throw CLIError("\(path):\(i + 1): \(error.reason)")
            }
        }
        return out
    }
}

/// What `listen --format json` prints.
struct Summary: Encodable {
    struct NodeBlocks: Encodable { var node: Int; var blocks: Int }
    struct ProbeResult: Encodable { var line: Int; var overlaps: [NodeBlocks] }

    var seconds: Double
    var batches, events: Int
    var eventsPerSecond: Double
    var gaps, replayedBatches, lostRanges, failedReplays, malformed, staleBatches: Int
    var blockSizeMismatches, orphanBlocks, indexedBlocks: Int
    var perNode: [NodeBlocks]
    var probes: [ProbeResult]

    init(seconds: Double, statistics s: EngineEventSubscriber.Statistics, router: KVRouter, nodes: [Int], probes: [Probe]) {
        self.seconds = seconds
        batches = s.batches
        events = s.events
        eventsPerSecond = seconds > 0 ? Double(s.events) / seconds : 0
        gaps = s.gaps
        replayedBatches = s.replayedBatches
        lostRanges = s.lostRanges
        failedReplays = s.failedReplays
        malformed = s.malformed
        staleBatches = s.staleBatches
        blockSizeMismatches = s.blockSizeMismatches
        let snapshot = router.snapshot
        orphanBlocks = snapshot.engine.orphanBlocks
        indexedBlocks = snapshot.indexedBlocks
        perNode = nodes.map { NodeBlocks(node: $0, blocks: router.indexedBlocks(of: $0)) }
        self.probes = probes.map { p in
            let scores = router.overlaps(router.blockHashes(tokens: p.tokens, adapter: p.adapter))
            return ProbeResult(line: p.line, overlaps: nodes.map { NodeBlocks(node: $0, blocks: scores.depth(of: $0)) })
        }
    }
}
