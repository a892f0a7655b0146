// Tokenizers: µs per 1 KB text prompt for HuggingFaceTokenizer on the test fixtures (GPT-2,
// Llama 3 and SentencePiece shapes), and, in the same run, the same GPT-2 and Llama 3 files
// with their split pattern spelled so that it is not recognised and runs on Swift's Regex —
// the baseline the dedicated scanners are measured against. scripts/tokenizers.py times
// Hugging Face's tokenizers on the same files and text.
import Benchmark
import Foundation
import KVCacheTokenizers
import Synchronization

private let fixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Tests/KVCacheTokenizersTests/Fixtures")

/// The prompt every tokenizer encodes: about 1 KB of prose with numbers and punctuation.
let prompt: String = {
    let words = """
        the quick brown fox jumps over the lazy dog while serving engines cache blocks of a \
        shared prefix; routers find them again by hashing, and 42 requests in 2026 reuse \
        what 7 others computed. It's what they're for: don't recompute, reuse!
        """.split(separator: " ")
    var state: UInt64 = 7
    var text = ""
    while text.utf8.count < 1_024 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        text += words[Int(state >> 33) % words.count] + " "
    }
    return text
}()

private func load(_ name: String, regexFallback: Bool = false) -> HuggingFaceTokenizer {
    var data = try! Data(contentsOf: fixtures.appendingPathComponent("\(name).tokenizer.json"))
    if regexFallback {
        // The same pattern inside a non-capturing group: it matches the same text, but is no
        // longer one of the patterns the scanners recognise.
        var json = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        var pre = json["pre_tokenizer"] as! [String: Any]
        if var steps = pre["pretokenizers"] as? [[String: Any]] {
            var split = steps[0]
            let pattern = (split["pattern"] as! [String: String])["Regex"]!
            split["pattern"] = ["Regex": "(?:\(pattern))"]
            steps[0] = split
            pre["pretokenizers"] = steps
        } else {
            // GPT-2: a ByteLevel step with its regex becomes Split + ByteLevel without it.
            let gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
            pre = [
                "type": "Sequence",
                "pretokenizers": [
                    ["type": "Split", "pattern": ["Regex": "(?:\(gpt2))"], "behavior": "Isolated", "invert": false],
                    ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false],
                ],
            ]
        }
        json["pre_tokenizer"] = pre
        data = try! JSONSerialization.data(withJSONObject: json)
    }
    return try! HuggingFaceTokenizer(json: data)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 20,
        maxDuration: .seconds(2),
        maxIterations: 5_000
    )
    let cases: [(String, HuggingFaceTokenizer)] = [
        ("gpt2", load("gpt2")), ("gpt2 on Regex", load("gpt2", regexFallback: true)),
        ("llama3", load("llama3")), ("llama3 on Regex", load("llama3", regexFallback: true)),
        ("sentencepiece", load("sentencepiece")),
    ]
    for (name, tokenizer) in cases {
        Benchmark("encode 1 KB, \(name)") { benchmark in
            for _ in benchmark.scaledIterations { blackHole(tokenizer.encode(prompt)) }
        }
    }
    // The prompts of scripts/gateway.py's latency and rate phases (1,000 random letters and
    // spaces), on the byte-level tokenizer the gateway is given there: the tokenizing a
    // request of that load costs the gateway at least.
    let bytes = load("bytes")
    let letters = Array("abcdefghijklmnopqrstuvwxyz ")
    let loadPrompts: [String] = (0..<256).map { i in
        var state = UInt64(i) &+ 1
        return "request \(i) "
            + String(
                (0..<1_000).map { _ in
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return letters[Int(state >> 33) % letters.count]
                })
    }
    Benchmark("encode gateway.py's 1 KB load prompts, bytes") { benchmark in
        for i in benchmark.scaledIterations { blackHole(bytes.encode(loadPrompts[i & 255])) }
    }
    // The same, each prompt new, without and through a segment cache as the gateway's (a
    // model's) keeps: what looking up, keeping and evicting a long section costs a prompt
    // never seen again.
    let loadSegments = SegmentCache(maximumTokens: 1 << 20)
    let fresh = Mutex(0)
    for cache in [nil, loadSegments] {
        Benchmark("encode gateway.py's 1 KB load prompts, bytes, each new, \(cache == nil ? "no cache" : "segment cache")") {
            benchmark in
            for _ in benchmark.scaledIterations {
                let n = fresh.withLock { $0 += 1; return $0 }
                blackHole(bytes.encode("\(n) " + loadPrompts[n & 255], cache: cache))
            }
        }
    }
    // A conversation written out as a completion's prompt (no added tokens inside): its sixth
    // turn, about 6 KB, each iteration's sixth turn new. Encoded whole, and with a segment
    // cache that holds the first five turns' runs of lines, as the gateway's cache does by then.
    let llama3 = load("llama3")
    let turns = (0..<5).map { t in
        "User: " + String(prompt.prefix(700 + 40 * t)) + "?\nAssistant: " + String(prompt.suffix(300)) + "\n"
    }
    let earlier = "System: " + prompt + "\n\n" + turns.joined()
    func sixth(_ i: Int) -> String { earlier + "User: \(i) " + String(prompt.prefix(900)) + "?\nAssistant:" }
    let turn = Mutex(0)
    Benchmark("encode conversation turn 6, llama3, whole") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(llama3.encode(sixth(turn.withLock { $0 += 1; return $0 })))
        }
    }
    let warmed = SegmentCache()
    _ = llama3.encode(earlier, cache: warmed)
    Benchmark("encode conversation turn 6, llama3, earlier turns cached") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(llama3.encode(sixth(turn.withLock { $0 += 1; return $0 }), cache: warmed))
        }
    }
}
