import Foundation
import KVCache
import Testing

@testable import KVCacheZMQ

/// A prefix index behind a lock, fed by the subscriber's thread.
final class LockedIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var index = PrefixIndex(nodeCapacity: 64)
    private(set) var applied = 0
    func apply(_ events: [EngineEvent]) {
        lock.withLock {
            _ = try? index.apply(events.map(\.keyedByEngineHashes))
            applied += events.count
        }
    }
    func holds(_ block: UInt64, node: Int) -> Bool { lock.withLock { index.contains(BlockHash(block), node: node) } }
    func count(_ node: Int) -> Int { lock.withLock { index.blockCount(of: node) } }
    var eventCount: Int { lock.withLock { applied } }
}

/// The Python side of the integration tests (a vLLM-shaped publisher) needs pyzmq and msgspec.
struct PythonModulesMissing: Error, CustomStringConvertible {
    var description: String { "these tests need Python's pyzmq and msgspec: python3 -m pip install pyzmq msgspec" }
}

let pythonReady: Bool = {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", "import zmq, msgspec"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}()

/// Fails the calling test with one line saying what to install when the modules are missing.
func requirePython() throws {
    if !pythonReady { throw PythonModulesMissing() }
}

struct PublisherRun {
    var output: [String: Any]
    var status: Int32
    var stderr: String
}

/// A running `publisher.py` and the ports its sockets bound.
struct Publisher {
    var process: Process
    var output: Pipe
    var errors: Pipe
    /// One endpoint per node given, on the ports the kernel picked for the publisher.
    var endpoints: [EngineEventSubscriber.Endpoint]
}

struct PublisherDidNotStart: Error, CustomStringConvertible { var description: String }

/// Starts `publisher.py` (pyzmq + msgspec) on 127.0.0.1 and reads the ports it bound: ports the
/// kernel picks cannot already be held by another test's process, as ports chosen here could.
func startPublisher(nodes: [Int], extra: [String] = []) throws -> Publisher {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("publisher.py").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script, "--nodes", nodes.map(String.init).joined(separator: ",")] + extra
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    var line = Data()
    while true {
        let byte = out.fileHandleForReading.readData(ofLength: 1)
        if byte.isEmpty || byte.first == 0x0A { break }
        line.append(byte)
    }
    let ports = (try? JSONSerialization.jsonObject(with: line)) as? [String: [Int]]
    guard let pub = ports?["pub"], let replay = ports?["replay"], pub.count == nodes.count, replay.count == nodes.count else {
        process.terminate()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        throw PublisherDidNotStart(description: "publisher.py did not name its ports: \(String(decoding: line, as: UTF8.self)) \(stderr)")
    }
    let endpoints = nodes.enumerated().map { i, node in
        EngineEventSubscriber.Endpoint(address: "tcp://127.0.0.1:\(pub[i])", replayAddress: "tcp://127.0.0.1:\(replay[i])", node: node)
    }
    return Publisher(process: process, output: out, errors: err, endpoints: endpoints)
}

func finish(_ p: Publisher) -> PublisherRun {
    let data = p.output.fileHandleForReading.readDataToEndOfFile()
    let err = String(decoding: p.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.process.waitUntilExit()
    let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    return PublisherRun(output: object, status: p.process.terminationStatus, stderr: err)
}

@Suite("EngineEventSubscriber with a real publisher", .serialized)
struct SubscriberIntegrationTests {
    @Test(
        "stores, removals, a clear, a gap filled by replay, duplicate ranks, malformed payloads",
        arguments: [0, 1, 20])
    func scenario(coalescingMilliseconds: Int) throws {
        try requirePython()
        let nodes = [0, 0, 1]
        let index = LockedIndex()
        let publisher = try startPublisher(nodes: nodes)
        var configuration = EngineEventSubscriber.Configuration()
        configuration.coalescing = .milliseconds(coalescingMilliseconds)
        let subscriber = EngineEventSubscriber(endpoints: publisher.endpoints, configuration: configuration) {
            index.apply($0)
        }
        try subscriber.start()
        let run = finish(publisher)
        // stop() hands the sink whatever is still gathering, so the figures below are final
        subscriber.stop()
        let stats = subscriber.statistics
        #expect(run.status == 0, "publisher failed: \(run.stderr)")
        let holdings = try #require(run.output["holdings"] as? [String: [String: Int]], "publisher output: \(run.output) \(run.stderr)")
        // the index holds exactly what the publisher says each node holds
        for block: UInt64 in [1, 2, 3, 4, 10, 11, 12, 20, 21, 22] {
            for node in [0, 1] {
                let expected = holdings[String(node)]?[String(block)] != nil
                #expect(index.holds(block, node: node) == expected, "block \(block) node \(node)")
            }
        }
        for node in [0, 1] { #expect(index.count(node) == holdings[String(node)]?.count ?? 0, "node \(node) block count") }
        #expect(stats.gaps == 1 && stats.replayedBatches == 1 && stats.lostRanges == 0 && stats.failedReplays == 0, "\(stats)")
        // each endpoint asked once, when it connected, and found nothing published yet
        #expect(stats.connectReplays == nodes.count, "\(stats)")
        #expect(stats.malformed == run.output["malformed"] as? Int, "\(stats)")
        #expect(stats.batches == 9, "\(stats)")  // 3 + 1 + 5 (one replayed); malformed payloads are not batches
    }

    /// Plays one of the publisher's single-endpoint scenarios (node 0) to a subscriber with the
    /// default configuration: what the index then holds, the subscriber's counts, and the
    /// publisher's output (its exit checked).
    static func play(scenario: String) throws -> (LockedIndex, EngineEventSubscriber.Statistics, PublisherRun) {
        try requirePython()
        let index = LockedIndex()
        let publisher = try startPublisher(nodes: [0], extra: ["--scenario", scenario])
        let subscriber = EngineEventSubscriber(endpoints: publisher.endpoints) { index.apply($0) }
        try subscriber.start()
        let run = finish(publisher)
        subscriber.stop()
        #expect(run.status == 0, "publisher failed: \(run.stderr)")
        return (index, subscriber.statistics, run)
    }

    @Test("a gap the engine no longer keeps clears the node, then applies what its replay still has")
    func lostRange() throws {
        let (index, stats, _) = try Self.play(scenario: "lost")
        // batch 0 ({1, 2}) is cleared with the loss of batch 1 ({10}); batch 2 ({20}) comes
        // from the replay after the clear, and batch 3 ({30}) live
        for block: UInt64 in [1, 2, 10] { #expect(!index.holds(block, node: 0), "block \(block)") }
        for block: UInt64 in [20, 30] { #expect(index.holds(block, node: 0), "block \(block)") }
        #expect(stats.gaps == 1 && stats.lostRanges == 1 && stats.replayedBatches == 1, "\(stats)")
    }

    @Test("a batch published before the subscription took effect, with none after it, comes from the replay socket")
    func publishedBeforeConnecting() throws {
        let (index, stats, run) = try Self.play(scenario: "early")
        for block: UInt64 in [5, 6] { #expect(index.holds(block, node: 0), "block \(block)") }
        #expect(stats.connectReplays == 1 && stats.replayedBatches == 1 && stats.batches == 1 && stats.gaps == 0, "\(stats)")
        #expect(run.output["replaysServed"] as? Int == 1, "\(run.output)")
    }

    @Test("an engine's data-parallel ranks are its ports offset by the rank")
    func ranks() throws {
        let e = try #require(
            EngineEventSubscriber.Endpoint.ranks(
                address: "tcp://10.0.0.5:5557", replayAddress: "tcp://10.0.0.5:5567",
                dataParallelSize: 2, firstNode: 3))
        #expect(e.map(\.address) == ["tcp://10.0.0.5:5557", "tcp://10.0.0.5:5558"])
        #expect(e.map(\.replayAddress) == ["tcp://10.0.0.5:5567", "tcp://10.0.0.5:5568"])
        #expect(e.map(\.node) == [3, 4] && e.map(\.rank) == [0, 1])
        let ipc = try #require(EngineEventSubscriber.Endpoint.ranks(address: "ipc:///tmp/kv", dataParallelSize: 3, firstNode: 0))
        #expect(ipc.map(\.address) == ["ipc:///tmp/kv", "ipc:///tmp/kv_dp1", "ipc:///tmp/kv_dp2"])
        #expect(EngineEventSubscriber.Endpoint.ranks(address: "tcp://host", dataParallelSize: 2, firstNode: 0) == nil)
        #expect(EngineEventSubscriber.Endpoint.ranks(address: "tcp://h:65535", dataParallelSize: 2, firstNode: 0) == nil)
    }

    @Test("stop() returns promptly with no traffic; a bad address is a clear error")
    func lifecycle() throws {
        let subscriber = EngineEventSubscriber(endpoints: [.init(address: "tcp://127.0.0.1:1", node: 0)]) { _ in }
        try subscriber.start()
        let t0 = ContinuousClock.now
        subscriber.stop()
        #expect(ContinuousClock.now - t0 < .seconds(1))
        let bad = EngineEventSubscriber(endpoints: [.init(address: "nonsense://x", node: 0)]) { _ in }
        #expect(throws: SubscriberError.self) { try bad.start() }
    }
}
