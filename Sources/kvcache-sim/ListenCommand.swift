import ArgumentParser
import Foundation
import KVCache
import KVCacheZMQ

struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Subscribe to engines' KV-event streams (vLLM over ZeroMQ) and report live.",
        discussion: """
            Each --endpoint is ADDRESS[,replay=ADDRESS][,node=N][,bind]: the engine's PUB address, its
            replay ROUTER (to fill gaps), the node its events belong to (default: its position), and
            'bind' when the engine connects to us. Prints a line per second until interrupted
            (or --duration seconds); --format json prints the final summary. Examples:
              kvcache-sim listen --endpoint tcp://127.0.0.1:5557,replay=tcp://127.0.0.1:5558
              kvcache-sim listen --endpoint tcp://10.0.0.5:5557,node=0 --endpoint tcp://10.0.0.6:5557,node=1 --duration 60 --format json
            """
    )

    @Option(help: "An engine endpoint: ADDRESS[,replay=ADDRESS][,node=N][,bind]. Repeat for several.")
    var endpoint: [String] = []

    @Option(help: "SUB topic prefix.")
    var topic: String = ""

    @Option(help: "Stop after this many seconds (default: until interrupted).")
    var duration: Double?

    @Option(help: "Output: table (live lines) or json (final summary).")
    var format: OutputFormat = .table

    func run() throws {
        guard !endpoint.isEmpty else { throw CLIError("give at least one --endpoint ADDRESS[,replay=ADDRESS][,node=N][,bind]") }
        let endpoints = try endpoint.enumerated().map { try Self.parse($0.element, position: $0.offset) }
        let index = LockedIndex(nodeCapacity: max(64, (endpoints.map(\.node).max() ?? 0) + 1))
        var config = EngineEventSubscriber.Configuration()
        config.topic = topic
        let subscriber = EngineEventSubscriber(endpoints: endpoints, configuration: config) { index.apply($0) }
        do { try subscriber.start() } catch { throw CLIError(error.description) }
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let stopped = DispatchSemaphore(value: 0)
        interrupt.setEventHandler { stopped.signal() }
        interrupt.resume()
        let start = Date()
        var last = subscriber.statistics
        var lastTime = start
        let nodes = Array(Set(endpoints.map(\.node))).sorted()
        while true {
            let waited = stopped.wait(timeout: .now() + 1)
            let now = Date()
            let s = subscriber.statistics
            if format != .json {
                let rate = Double(s.events - last.events) / now.timeIntervalSince(lastTime)
                let blocks = nodes.map { "n\($0)=\(index.blocks(of: $0))" }.joined(separator: " ")
                let line = String(format: "%6.1fs  %9.0f events/s  blocks %@  gaps %d  replayed %d  lost %d  malformed %d\n",
                                  now.timeIntervalSince(start), rate, blocks, s.gaps, s.replayedBatches, s.lostRanges, s.malformed)
                FileHandle.standardOutput.write(Data(line.utf8))   // unbuffered: live even into a pipe
            }
            last = s
            lastTime = now
            if waited == .success { break }
            if let duration, now.timeIntervalSince(start) >= duration { break }
        }
        subscriber.stop()
        let s = subscriber.statistics
        let seconds = Date().timeIntervalSince(start)
        if format == .json {
            let perNode = nodes.map { "{\"node\":\($0),\"blocks\":\(index.blocks(of: $0))}" }.joined(separator: ",")
            print("{\"seconds\":\(fmt(seconds, 3)),\"batches\":\(s.batches),\"events\":\(s.events),\"eventsPerSecond\":\(fmt(Double(s.events) / seconds, 1)),"
                + "\"gaps\":\(s.gaps),\"replayedBatches\":\(s.replayedBatches),\"lostRanges\":\(s.lostRanges),\"failedReplays\":\(s.failedReplays),"
                + "\"malformed\":\(s.malformed),\"staleBatches\":\(s.staleBatches),\"indexedBlocks\":\(index.total),\"perNode\":[\(perNode)]}")
        }
    }

    static func parse(_ text: String, position: Int) throws -> EngineEventSubscriber.Endpoint {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let address = parts.first, address.contains("://") else {
            throw CLIError("--endpoint '\(text)': expected ADDRESS[,replay=ADDRESS][,node=N][,bind], e.g. tcp://127.0.0.1:5557")
        }
        var e = EngineEventSubscriber.Endpoint(address: address, node: position)
        for p in parts.dropFirst() {
            if p == "bind" { e.mode = .bind } else if p.hasPrefix("replay=") { e.replayAddress = String(p.dropFirst(7)) } else if p.hasPrefix("node=") {
                guard let n = Int(p.dropFirst(5)), n >= 0 else { throw CLIError("--endpoint '\(text)': node must be a whole number ≥ 0") }
                e.node = n
            } else {
                throw CLIError("--endpoint '\(text)': unknown part '\(p)'")
            }
        }
        return e
    }
}

/// The prefix index the listener fills, behind a lock.
final class LockedIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var index: PrefixIndex
    init(nodeCapacity: Int) { index = PrefixIndex(nodeCapacity: nodeCapacity) }
    func apply(_ events: [KVEvent]) { lock.withLock { _ = try? index.apply(events) } }
    func blocks(of node: Int) -> Int { lock.withLock { index.blockCount(of: node) } }
    var total: Int { lock.withLock { index.blockCount } }
}
