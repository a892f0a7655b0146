import Foundation
import FuzzSupport
import KVCacheTemplates

let fixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Tests/KVCacheTemplatesTests/Fixtures")

/// Real models' templates (the test fixtures), for bodies to be rendered with.
let templates: [ChatTemplate] = {
    let dir = fixtures.appendingPathComponent("templates")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { $0.hasSuffix(".jinja") }.sorted().map {
        try! ChatTemplate(
            String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8),
            specialTokens: ["bos_token": .string("<s>"), "eos_token": .string("</s>")])
    }
}()

/// Requests for fuzzed templates to render.
let requests: [ChatRequest] = [
    ChatRequest(messages: [.object(TemplateObject([("role", .string("user")), ("content", .string("hi"))]))]),
    ChatRequest(
        messages: [
            .object(TemplateObject([("role", .string("system")), ("content", .string("be brief"))])),
            .object(TemplateObject([("role", .string("user")), ("content", .string("ünï 🚀"))])),
            .object(TemplateObject([("role", .string("assistant")), ("content", .string("ok"))])),
        ], tools: [.object(TemplateObject([("type", .string("function"))]))], addGenerationPrompt: false),
]

let now = Date(timeIntervalSince1970: 1_773_500_966)

// Any bytes. First byte 0: the rest is a template, parsed and (when it parses) rendered with a
// few requests. First byte 1: the rest is a request body, read as a chat request and (when it
// reads) rendered with every real template. Otherwise: a template and a body split at the
// first 0xFF byte. A template (an operator's file) and a body (a client's request) may be
// anything: each is refused with an error or rendered, in bounded time; nothing may crash.
exit(
    runFuzzer { data, size in
        guard size > 0, let data else { return 0 }
        let rest = UnsafeBufferPointer(start: data + 1, count: size - 1)
        switch data[0] {
        case 0:
            guard let t = try? ChatTemplate(String(decoding: rest, as: UTF8.self)) else { return 0 }
            for r in requests { _ = try? t.render(r, now: now) }
        case 1:
            guard let body = try? TemplateValue(json: rest), let request = try? ChatRequest(body: body) else { return 0 }
            for t in templates { _ = try? t.render(request, now: now) }
        default:
            let split = rest.firstIndex(of: 0xFF) ?? rest.count
            guard let t = try? Template(String(decoding: rest[..<split], as: UTF8.self)) else { return 0 }
            let json = split < rest.count ? Array(rest[(split + 1)...]) : []
            var context: [String: TemplateValue] = [:]
            if case .object(let o)? = try? TemplateValue(json: json) { for (k, v) in o.pairs { context[k] = v } }
            _ = try? t.render(context, now: now)
        }
        return 0
    })
