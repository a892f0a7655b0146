import Foundation
import FuzzSupport
import KVCacheTokenizers

/// The test fixtures: a tokenizer of each family's shape.
let tokenizers: [HuggingFaceTokenizer] = {
    let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/KVCacheTokenizersTests/Fixtures")
    return ["gpt2-prefix-space", "llama3", "qwen2", "metaspace", "sentencepiece", "splits"].map {
        try! HuggingFaceTokenizer(contentsOf: fixtures.appendingPathComponent("\($0).tokenizer.json"))
    }
}()

// Any bytes: with a first byte of 0, the rest is a tokenizer.json to load (and, when it loads,
// to encode with); otherwise the rest, as text, is encoded by every fixture. A client's text
// or an operator's file may be anything: loading fails with a reason, nothing may crash.
exit(
    runFuzzer { data, size in
        guard size > 0, let data else { return 0 }
        let rest = UnsafeBufferPointer(start: data + 1, count: size - 1)
        if data[0] == 0 {
            if let t = try? HuggingFaceTokenizer(json: Data(rest)) { _ = t.encode("fuzz <s> it's 123 ünïcode") }
            return 0
        }
        let text = String(decoding: rest, as: UTF8.self)
        for t in tokenizers {
            _ = t.encode(text)
            _ = t.encode(text, addSpecialTokens: false)
        }
        return 0
    })
