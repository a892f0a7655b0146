import FuzzSupport
import Glibc
import KVCache
@_spi(Differential) import KVCacheZMQ

/// A router the decoded events are applied to, so re-hashing and ordering see fuzzed input too.
let router: KVRouter = {
    let r = KVRouter(configuration: .init(hasher: try! PrefixHasher(blockSize: 16)))
    r.addNode(0)
    return r
}()

// Any bytes as a vLLM KV-event payload: decoding fails with a reason or yields events that the
// router applies; nothing may crash. Whatever the one-pass reader takes, msgpack-c's path must
// decode to the same batch.
exit(
    runFuzzer { data, size in
        let bytes = UnsafeRawBufferPointer(start: data, count: size)
        if let fast = VLLMEventDecoder._readInOnePass(bytes) {
            // the same bits: a NaN timestamp is not equal to itself
            guard let tree = try? VLLMEventDecoder()._decodeWithMsgpack(bytes),
                tree.timestamp.bitPattern == fast.timestamp.bitPattern, tree.events == fast.events,
                tree.dataParallelRank == fast.dataParallelRank
            else {
                fatalError("the one-pass reader and msgpack-c's path disagree on a payload of \(size) bytes")
            }
        }
        guard let batch = try? VLLMEventDecoder().decode(bytes) else { return 0 }
        // a fresh node per input: its events start at 0, so every one is applied, none held
        router.removeNode(0)
        router.addNode(0)
        var next: UInt64 = 0
        let events = VLLMEventDecoder.engineEvents(batch, node: 0, nextEventID: &next)
        router.apply(events)
        _ = router.route(tokens: Array(0..<64))
        return 0
    })
