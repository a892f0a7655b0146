import Foundation
import KVCacheTemplates
import KVCacheTokenizers
import Testing

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func loadFixture(_ name: String) throws -> TemplateValue {
    try TemplateValue(json: try Data(contentsOf: fixtures.appendingPathComponent(name)))
}

/// The fixtures' fixed instant (a naive local time, as Python's `datetime.now()`).
func fixtureNow(_ iso: String) -> Date {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = .current
    f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
    return f.date(from: iso)!
}

@Suite("Jinja renderer against jinja2")
struct JinjaLanguageTests {
    @Test("every template-language case renders as jinja2 renders it, or fails where it fails")
    func languageCases() throws {
        let root = try loadFixture("jinja.json")
        let now = fixtureNow(root["now"]!.stringValue!)
        guard case .array(let cases)? = root["cases"] else { Issue.record("no cases"); return }
        #expect(cases.count >= 30)
        for c in cases {
            let source = c["template"]!.stringValue!
            guard case .object(let context)? = c["context"] else { continue }
            let values = Dictionary(uniqueKeysWithValues: context.pairs.map { ($0.key, $0.value) })
            let template = try Template(source)
            if let expected = c["output"]?.stringValue {
                #expect(throws: Never.self, "\(source)") { _ = try template.render(values, now: now) }
                let got = try? template.render(values, now: now)
                #expect(got == expected, "\(source)")
            } else {
                #expect(throws: TemplateError.self, "\(source)") { _ = try template.render(values, now: now) }
            }
        }
    }

    @Test("raise_exception is a refusal with the template's message")
    func raised() throws {
        let t = try Template("{% if n > 1 %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}ok")
        #expect(try t.render(["n": .int(1)]) == "ok")
        do {
            _ = try t.render(["n": .int(2)])
            Issue.record("no error")
        } catch {
            #expect(error.kind == .raised)
            #expect(error.message == "Conversation roles must alternate")
        }
    }

    @Test("a construct the renderer does not run is refused at load, naming it and its line")
    func unsupported() {
        let cases: [(String, String, Int)] = [
            ("a\n{% include 'other.jinja' %}", "include", 2),
            ("{{ x }}\n\n{{ x | frobnicate }}", "frobnicate", 3),
            ("{% if x is prime %}{% endif %}", "prime", 1),
            ("{{ x.mutate() }}", "mutate", 1),
            ("{{ lipsum(3) }}", "lipsum", 1),
            ("{% for x in y %}", "endfor", 1),
            ("{{ 'unclosed }}", "not closed", 1),
        ]
        for (source, construct, line) in cases {
            do {
                _ = try Template(source)
                Issue.record("loaded: \(source)")
            } catch {
                #expect(error.kind == .syntax)
                #expect(error.message.contains(construct), "\(error)")
                #expect(error.line == line, "\(source): \(error)")
            }
        }
    }

    @Test("loops and output are bounded: any template finishes")
    func bounded() throws {
        let t = try Template(
            "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}")
        #expect(throws: TemplateError.self) { _ = try t.render([:]) }
        let deep = try Template("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
        #expect(throws: TemplateError.self) { _ = try deep.render([:]) }
    }

    @Test("floats print as Python's repr prints them")
    func floats() throws {
        // Python 3.11: [repr(v) for v in values]
        let cases: [(Double, String)] = [
            (1e16, "1e+16"), (1.5e16, "1.5e+16"), (123_456_789_012_345_680.0, "1.2345678901234568e+17"), (1e-5, "1e-05"),
            (0.0001, "0.0001"), (0.00012345, "0.00012345"), (1e22, "1e+22"), (9_007_199_254_740_993.0, "9007199254740992.0"),
            (2.5, "2.5"), (100.0, "100.0"), (1e15, "1000000000000000.0"), (1_234_567.0, "1234567.0"), (-0.0, "-0.0"),
            (3.14159e-10, "3.14159e-10"), (1.7976931348623157e308, "1.7976931348623157e+308"), (Double.leastNonzeroMagnitude, "5e-324"),
        ]
        let t = try Template("{{ x }}|{{ x | tojson }}")
        for (value, text) in cases {
            #expect(try t.render(["x": .double(value)]) == "\(text)|\(text)", "\(value)")
        }
    }

    @Test("JSON values keep their key order and Python's number kinds")
    func json() throws {
        let v = try TemplateValue(json: Array(#"{"z": 1, "a": [1.0, 2, "\u00e9\ud83d\ude80"], "m": null}"#.utf8))
        guard case .object(let o) = v else { Issue.record("not an object"); return }
        #expect(o.keys == ["z", "a", "m"])
        #expect(o["a"] == .array([.double(1), .int(2), .string("é🚀")]))
        for bad in ["{", "[1,]", "{\"a\" 1}", "01", "\"\\x\"", "nul", "[] x"] {
            #expect(throws: TemplateError.self, "\(bad)") { _ = try TemplateValue(json: Array(bad.utf8)) }
        }
    }

    @Test("objects of few and of many keys keep order, replace in place, remove, and compare regardless of order")
    func objects() throws {
        var rng = SystemRandomNumberGenerator()  // a failure names its step
        let names = (0..<20).map { "key\($0)" } + ["a", "é🚀", String(repeating: "long key ", count: 4)]
        let t = try Template("{% for k, v in o.items() %}{{ k }}={{ v }};{% endfor %}|{{ o.keys() | list | length }}|{{ o['a'] }}")
        for round in 0..<300 {
            var object = TemplateObject()
            var keys: [String] = []
            var values: [String: Int] = [:]
            for step in 0..<Int.random(in: 0...60, using: &rng) {
                let k = names.randomElement(using: &rng)!
                if Bool.random(using: &rng) || values[k] == nil {
                    let v = Int.random(in: 0...9, using: &rng)
                    if values.updateValue(v, forKey: k) == nil { keys.append(k) }
                    object[k] = .int(v)
                } else {
                    values[k] = nil
                    keys.removeAll { $0 == k }
                    object[k] = nil
                }
                #expect(object.keys == keys, "round \(round), step \(step)")
                #expect(object[k] == values[k].map(TemplateValue.int), "round \(round), step \(step)")
            }
            #expect(object.pairs.map(\.key) == keys && object.pairs.allSatisfy { .int(values[$0.key]!) == $0.value }, "round \(round)")
            let items = keys.map { "\($0)=\(values[$0]!);" }.joined()
            let a = values["a"].map { "\($0)" } ?? ""
            #expect(try t.render(["o": .object(object)]) == "\(items)|\(keys.count)|\(a)", "round \(round)")
            let shuffled = TemplateObject(keys.shuffled(using: &rng).map { ($0, .int(values[$0]!)) })
            #expect(shuffled == object && shuffled.hashValue == object.hashValue, "round \(round)")
            if let k = keys.first {
                var changed = object
                changed[k] = .string("other")
                #expect(changed != object, "round \(round)")
            }
        }
    }

    @Test("JSON strings, plain or with escapes anywhere, decode as Foundation's JSONSerialization decodes them")
    func jsonStrings() throws {
        let atoms = ["a", "é", "🚀", " ", "\\n", "\\\"", "\\\\", "\\/", "\\t", "\\u00e9", "\\ud83d\\ude80", "\\u0000", "xyz"]
        var rng = SystemRandomNumberGenerator()  // a failure names its string
        for _ in 0..<2_000 {
            let body = (0..<Int.random(in: 0...12, using: &rng)).map { _ in atoms.randomElement(using: &rng)! }.joined()
            let json = "[\"\(body)\"]"
            let expected = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String]
            #expect(try TemplateValue(json: Array(json.utf8)) == .array([.string(expected![0])]), "\(json)")
        }
        for bad in ["[\"abc]", "[\"a\nb\"]", "[\"a\\\"]"] {
            #expect(throws: TemplateError.self, "\(bad)") { _ = try TemplateValue(json: Array(bad.utf8)) }
        }
    }

    @Test("trim, strip, lstrip and rstrip drop the ends as Python's str.strip does, on random text")
    func strips() throws {
        let atoms: [String] = [" ", "\t", "\n", "\u{a0}", "\u{3000}", "a", "é", "🚀", "x y", "ab"]
        var rng = SystemRandomNumberGenerator()  // a failure names its text
        func whitespace(_ c: Unicode.Scalar) -> Bool { [" ", "\t", "\n", "\u{a0}", "\u{3000}"].contains(c) }
        func reference(_ s: String, _ drop: (Unicode.Scalar) -> Bool, leading: Bool, trailing: Bool) -> String {
            var scalars = Array(s.unicodeScalars)
            if leading { while let f = scalars.first, drop(f) { scalars.removeFirst() } }
            if trailing { while let l = scalars.last, drop(l) { scalars.removeLast() } }
            var out = String.UnicodeScalarView()
            out.append(contentsOf: scalars)
            return String(out)
        }
        let t = try Template("{{ s | trim }}|{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.strip('a🚀 ') }}|{{ s.lstrip('a🚀 ') }}")
        let chars = Set("a🚀 ".unicodeScalars)
        for _ in 0..<2_000 {
            let text = (0..<Int.random(in: 0...8, using: &rng)).map { _ in atoms.randomElement(using: &rng)! }.joined()
            let both = reference(text, whitespace, leading: true, trailing: true)
            let want = [
                both, both, reference(text, whitespace, leading: true, trailing: false),
                reference(text, whitespace, leading: false, trailing: true),
                reference(text, { chars.contains($0) }, leading: true, trailing: true),
                reference(text, { chars.contains($0) }, leading: true, trailing: false),
            ].joined(separator: "|")
            #expect(try t.render(["s": .string(text)]) == want, "\(text.debugDescription)")
        }
    }
}

@Suite("Chat templates against transformers' apply_chat_template")
struct ChatTemplateTests {
    @Test("every fixture template x conversation gives transformers' text and ids; every refusal is an error")
    func fixtureCases() throws {
        let root = try loadFixture("chat.json")
        let now = fixtureNow(root["now"]!.stringValue!)
        let tokenizer = try HuggingFaceTokenizer(contentsOf: fixtures.appendingPathComponent("model/tokenizer.json"))
        guard case .array(let cases)? = root["cases"], case .object(let conversations)? = root["conversations"] else {
            Issue.record("no cases")
            return
        }
        var templates: [String: String] = [:]
        var rendered = 0
        var refused = 0
        for c in cases {
            let name = c["template"]!.stringValue!
            if templates[name] == nil {
                templates[name] = try String(contentsOf: fixtures.appendingPathComponent("templates/\(name).jinja"), encoding: .utf8)
            }
            guard case .object(let specials)? = c["specials"] else { continue }
            let template = try ChatTemplate(
                templates[name]!, specialTokens: Dictionary(uniqueKeysWithValues: specials.pairs.map { ($0.key, $0.value) }))
            let conversation = c["conversation"]!.stringValue!
            let request = try ChatRequest(body: conversations[conversation]!)
            let label = "\(name) × \(conversation)"
            if let text = c["text"]?.stringValue {
                let got = try? template.render(request, now: now)
                #expect(got == text, "\(label)")
                if let got {
                    let ids = tokenizer.encode(got, addSpecialTokens: false)
                    #expect(c["ids"] == .array(ids.map { .int(Int($0)) }), "\(label)")
                }
                rendered += 1
            } else {
                #expect(throws: TemplateError.self, "\(label): transformers refused it") { _ = try template.render(request, now: now) }
                refused += 1
            }
        }
        #expect(rendered > 150)
        #expect(refused > 10)
    }

    @Test("a model directory loads its template, special tokens and length from tokenizer_config.json")
    func modelDirectory() throws {
        let model = try ModelTokenizer(contentsOf: fixtures.appendingPathComponent("model"))
        #expect(model.maximumLength == 131_072)
        #expect(model.chatTemplate?.specialTokens["bos_token"] == .string("<|begin_of_text|>"))
        let root = try loadFixture("chat.json")
        let now = fixtureNow(root["now"]!.stringValue!)
        guard case .array(let cases)? = root["cases"], case .object(let conversations)? = root["conversations"] else { return }
        for c in cases where c["template"] == .string("llama-3.1-tools") && c["ids"] != nil {
            let request = try ChatRequest(body: conversations[c["conversation"]!.stringValue!]!)
            let ids = try model.encode(chat: request, now: now)
            #expect(c["ids"] == .array(ids.map { .int(Int($0)) }))
        }
        // A lone tokenizer.json tokenizes text, and says it cannot do chat.
        let bare = try ModelTokenizer(contentsOf: fixtures.appendingPathComponent("model/tokenizer.json"))
        #expect(bare.chatTemplate == nil)
        #expect(throws: TemplateError.self) {
            _ = try bare.encode(chat: ChatRequest(messages: [.object(TemplateObject([("role", .string("user"))]))]))
        }
    }

    @Test("a directory without tokenizer.json, a missing path, and a broken template each fail with one line naming the file")
    func directoryErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kvcache-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: TokenizerFileError.self) { _ = try ModelTokenizer(contentsOf: dir) }
        #expect(throws: TokenizerFileError.self) { _ = try ModelTokenizer(contentsOf: dir.appendingPathComponent("nothing")) }
        try FileManager.default.copyItem(
            at: fixtures.appendingPathComponent("model/tokenizer.json"), to: dir.appendingPathComponent("tokenizer.json"))
        try Data("{% for m in messages %}\n{{ m | bogus }}{% endfor %}".utf8).write(to: dir.appendingPathComponent("chat_template.jinja"))
        do {
            _ = try ModelTokenizer(contentsOf: dir)
            Issue.record("loaded a template with an unknown filter")
        } catch {
            #expect(error.description.contains("chat_template.jinja"))
            #expect(error.description.contains("line 2"))
            #expect(error.description.contains("bogus"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("malformed messages are refused naming the field")
    func malformed() {
        let bodies: [(String, String)] = [
            (#"{"messages": [1, 2]}"#, "messages"),
            (#"{"messages": []}"#, "messages"),
            (#"{"messages": "hi"}"#, "messages"),
            (#"{"messages": [{"content": "x"}]}"#, "messages"),
            (#"{"messages": [{"role": 3, "content": "x"}]}"#, "messages"),
            (#"{"messages": [{"role": "user", "content": 5}]}"#, "messages"),
            (#"{"messages": [{"role": "user", "content": [{"type": "text"}]}]}"#, "messages"),
            (#"{"messages": [{"role": "user", "content": "x"}], "tools": {}}"#, "tools"),
            (#"{"messages": [{"role": "user", "content": "x"}], "add_generation_prompt": "yes"}"#, "add_generation_prompt"),
            (#"{"messages": [{"role": "user", "content": "x"}], "chat_template_kwargs": []}"#, "chat_template_kwargs"),
            (
                #"{"messages": [{"role": "user", "content": "x"}], "add_generation_prompt": true, "continue_final_message": true}"#,
                "continue_final_message"
            ),
        ]
        for (body, field) in bodies {
            do {
                _ = try ChatRequest(body: try TemplateValue(json: Array(body.utf8)))
                Issue.record("accepted \(body)")
            } catch {
                #expect(error.kind == .input)
                #expect(error.field == field, "\(body): \(error)")
            }
        }
    }

    @Test("text parts join with newlines for string templates and stay parts for templates that loop over content")
    func contentParts() throws {
        let body = try TemplateValue(
            json: Array(
                #"{"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}"#.utf8))
        let request = try ChatRequest(body: body)
        let plain = try ChatTemplate("{% for m in messages %}[{{ m.content }}]{% endfor %}")
        #expect(!plain.takesContentParts)
        #expect(try plain.render(request) == "[a\nb]")
        let parts = try ChatTemplate("{% for m in messages %}{% for p in m.content %}<{{ p.text }}>{% endfor %}{% endfor %}")
        #expect(parts.takesContentParts)
        #expect(try parts.render(request) == "<a><b>")
    }
}
