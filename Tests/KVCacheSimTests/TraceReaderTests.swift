import Foundation
import KVCache
import Testing

@testable import KVCacheSim

@Suite("TraceReader")
struct TraceReaderTests {
    let good = #"{"timestamp": 0, "input_length": 1000, "output_length": 5, "hash_ids": [0, 1]}"#

    func error(_ text: String, sort: Bool = false) -> TraceError? {
        do {
            _ = try TraceReader(options: .init(sort: sort)).read(text: text, source: "t.jsonl")
            return nil
        } catch {
            return error
        }
    }

    @Test("reads the conversation trace: 12,031 requests, 288,500 block accesses")
    func conversation() throws {
        let trace = SimFixtures.conversation
        #expect(trace.count == SimFixtures.reference.stats.requests)
        #expect(trace.blocks.count == SimFixtures.reference.stats.block_accesses)
        #expect(Set(trace.blocks).count == SimFixtures.reference.stats.unique_blocks)
        #expect(trace.records[0].inputLength == 6758 && trace.records[0].outputLength == 500)
        #expect(Array(trace.chain(1).prefix(3)) == [0, 14, 15])
        let mean = Double(trace.totalInputTokens) / Double(trace.count)
        #expect(abs(mean - SimFixtures.reference.stats.mean_input_length) < 1e-9)
    }

    @Test("key order, white space and unknown keys (even nested) are accepted")
    func flexible() throws {
        let text = #"""
            {"hash_ids":[7,8] , "extra": {"a": [1, {"b": "x,}"}], "c": null}, "output_length":1,"input_length":600,"timestamp":1.5}
            {"timestamp": 2, "input_length": 512, "output_length": 0, "hash_ids": [7], "flag": true}
            """#
        let t = try TraceReader().read(text: text)
        #expect(t.count == 2)
        #expect(t.records[0].timestamp == 1.5 && Array(t.chain(0)) == [7, 8])
        #expect(t.records[1].outputLength == 0)
    }

    @Test("each malformed case names the line and the field")
    func errors() {
        let cases: [(String, Int, String?, String)] = [
            (good + "\n" + #"{"timestamp": 1, "input_length": 10"#, 2, nil, "truncated"),
            (good + "\n" + "not json", 2, nil, "malformed JSON"),
            (#"{"input_length": 10, "output_length": 1, "hash_ids": [1]}"#, 1, "timestamp", "missing field"),
            (#"{"timestamp": 0, "output_length": 1, "hash_ids": [1]}"#, 1, "input_length", "missing field"),
            (#"{"timestamp": 0, "input_length": 10, "hash_ids": [1]}"#, 1, "output_length", "missing field"),
            (#"{"timestamp": 0, "input_length": 10, "output_length": 1}"#, 1, "hash_ids", "missing field"),
            (#"{"timestamp": 0, "input_length": "10", "output_length": 1, "hash_ids": [1]}"#, 1, "input_length", "expected a number"),
            (#"{"timestamp": 0, "input_length": 10.5, "output_length": 1, "hash_ids": [1]}"#, 1, "input_length", "whole number"),
            (#"{"timestamp": 0, "input_length": -3, "output_length": 1, "hash_ids": [1]}"#, 1, "input_length", "negative"),
            (#"{"timestamp": 0, "input_length": 3, "output_length": -1, "hash_ids": [1]}"#, 1, "output_length", "negative"),
            (#"{"timestamp": 0, "input_length": 3, "output_length": 1, "hash_ids": []}"#, 1, "hash_ids", "empty"),
            (#"{"timestamp": 0, "input_length": 3, "output_length": 1, "hash_ids": [1, "a"]}"#, 1, "hash_ids", "non-negative integer"),
            (#"{"timestamp": 0, "input_length": 3, "output_length": 1, "hash_ids": [1, -2]}"#, 1, "hash_ids", "non-negative integer"),
            (#"{"timestamp": 0, "input_length": 513, "output_length": 1, "hash_ids": [1, 2, 3]}"#, 1, "hash_ids", "at most 2 blocks"),
            (#"{"timestamp": "x", "input_length": 3, "output_length": 1, "hash_ids": [1]}"#, 1, "timestamp", "expected a number"),
            (
                good + "\n" + #"{"timestamp": -1, "input_length": 1000, "output_length": 5, "hash_ids": [0]}"#, 2, "timestamp",
                "earlier than"
            ),
            (good + "\n\n" + good, 2, nil, "empty line"),
            ("", 0, nil, "no requests"),
        ]
        for (text, line, field, fragment) in cases {
            let e = error(text)
            #expect(e != nil, "accepted: \(text)")
            guard let e else { continue }
            #expect(e.file == "t.jsonl")
            #expect(e.line == line, "\(e)")
            #expect(e.field == field, "\(e)")
            #expect(e.description.contains(fragment), "\(e)")
            #expect(!e.description.contains("\n"))
        }
    }

    @Test("--sort reorders timestamps stably instead of failing")
    func sorting() throws {
        let text = [
            #"{"timestamp": 5, "input_length": 512, "output_length": 1, "hash_ids": [1]}"#,
            #"{"timestamp": 2, "input_length": 512, "output_length": 1, "hash_ids": [2]}"#,
            #"{"timestamp": 5, "input_length": 512, "output_length": 1, "hash_ids": [3]}"#,
        ].joined(separator: "\n")
        #expect(error(text) != nil)
        let t = try TraceReader(options: .init(sort: true)).read(text: text)
        #expect(t.records.map(\.timestamp) == [2, 5, 5])
        #expect(t.blocks == [2, 1, 3])
    }

    @Test("a file that does not exist is named")
    func missingFile() {
        #expect(throws: TraceError(file: "/nope/x.jsonl", line: 0, message: "no such file")) {
            try TraceReader().read(path: "/nope/x.jsonl")
        }
    }

    @Test("a truncated last line in a file is an error, not a silent drop")
    func truncatedFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kvcache-trunc-\(UInt64.random(in: 0...UInt64.max)).jsonl")
        try (good + "\n" + String(good.prefix(40))).write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try TraceReader().read(path: url.path)
            Issue.record("accepted a truncated line")
        } catch {
            #expect(error.line == 2)
            #expect(error.description.contains("truncated"))
        }
    }

    @Test("block ids of every length from 1 to 20 digits read exactly, wherever they fall on the line")
    func idLengths() throws {
        var rng = SystemRandomNumberGenerator()
        var lines: [String] = []
        var expected: [[UInt64]] = []
        for digits in 1...20 {
            for padding in 0..<9 {
                let power = (1..<digits).reduce(UInt64(1)) { r, _ in r * 10 }
                let low: UInt64 = digits == 1 ? 0 : power
                let high: UInt64 = digits == 20 ? .max : power * 10 - 1
                let ids = (0..<3).map { _ in UInt64.random(in: low...high, using: &rng) } + [high, low]
                let gap = String(repeating: " ", count: padding)
                let list = ids.map(String.init).joined(separator: "," + gap)
                lines.append(#"{"timestamp": 0, "input_length": 5000, "output_length": 1, "hash_ids": ["# + gap + list + gap + "]}")
                expected.append(ids)
            }
        }
        let trace = try TraceReader().read(text: lines.joined(separator: "\n"))
        #expect(trace.count == expected.count)
        for (i, ids) in expected.enumerated() {
            #expect(Array(trace.chain(i)).map(\.rawValue) == ids, "line \(i + 1): \(lines[i])")
        }
        let tooLong = #"{"timestamp": 0, "input_length": 600, "output_length": 1, "hash_ids": [18446744073709551616]}"#
        #expect(error(tooLong)?.description.contains("does not fit in 64 bits") == true)
    }

    @Test("a file read in pieces: lines across read boundaries and one longer than the read buffer")
    func longLines() throws {
        let ids = (0..<200_000).map { 1_000_000 + $0 }
        let long =
            #"{"timestamp": 1, "input_length": \#(ids.count * 512), "output_length": 1, "hash_ids": [\#(ids.map(String.init).joined(separator: ", "))]}"#
        let many = (0..<30_000).map { #"{"timestamp": 2, "input_length": 600, "output_length": 1, "hash_ids": [\#($0), 7]}"# }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kvcache-long-\(UInt64.random(in: 0...UInt64.max)).jsonl")
        try ([good, long] + many).joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let trace = try TraceReader().read(path: url.path)
        #expect(trace.count == 2 + many.count)
        #expect(Array(trace.chain(1)).map(\.rawValue) == ids.map(UInt64.init))
        #expect(Array(trace.chain(trace.count - 1)).map(\.rawValue) == [UInt64(many.count - 1), 7])
        #expect(trace.blocks.count == 2 + ids.count + 2 * many.count)
    }
}
