// Templates: a chat request's ids in process — Llama 3.1's chat template rendered over a 4 KB
// conversation (conversation.json), then tokenized (every section, or from the segment cache,
// as the gateway finds a conversation's earlier turns) with Llama 3's 128k-token tokenizer
// (Benchmarks/data/llama3, made by scripts/make_model.py; the test fixtures' small tokenizer when
// it is missing). scripts/run.py times transformers' apply_chat_template on the same directory
// and conversation in the same run.
import Benchmark
import Foundation
import KVCacheTemplates

private let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
private let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The model directory: the real one when made, else the fixtures'.
let modelDirectory: URL = {
    let real = root.appendingPathComponent("Benchmarks/data/llama3")
    if FileManager.default.fileExists(atPath: real.appendingPathComponent("tokenizer.json").path) { return real }
    return root.appendingPathComponent("Tests/KVCacheTemplatesTests/Fixtures/model")
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 20,
        maxDuration: .seconds(3),
        maxIterations: 10_000
    )
    let model = try! ModelTokenizer(contentsOf: modelDirectory)
    let body = try! TemplateValue(json: Data(contentsOf: here.appendingPathComponent("conversation.json")))
    let request = try! ChatRequest(body: body)
    let template = model.chatTemplate!
    let name = modelDirectory.lastPathComponent == "llama3" ? "llama3" : "fixture model"
    Benchmark("render 4 KB conversation, \(name)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try! template.render(request)) }
    }
    Benchmark("render + tokenize 4 KB conversation, \(name)") { benchmark in
        // every section encoded: no segment cache
        for _ in benchmark.scaledIterations {
            blackHole(model.tokenizer.encode(try! template.render(request), addSpecialTokens: false))
        }
    }
    Benchmark("render + tokenize 4 KB conversation, sections cached, \(name)") { benchmark in
        // ModelTokenizer's segment cache: each message's text is found again
        for _ in benchmark.scaledIterations { blackHole(try! model.encode(chat: request)) }
    }
    Benchmark("read request + render + tokenize 4 KB conversation, \(name)") { benchmark in
        let bytes = try! Data(contentsOf: here.appendingPathComponent("conversation.json"))
        for _ in benchmark.scaledIterations {
            blackHole(try! model.encode(chat: ChatRequest(body: TemplateValue(json: bytes))))
        }
    }
}
