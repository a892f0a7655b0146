import Foundation
import Hummingbird
import KVCacheTemplates
import NIOCore
import NIOFoundationCompat

extension Gateway {
    // MARK: POST /tokenize

    /// vLLM's `POST /tokenize`: with the model in process, the ids the gateway routes by
    /// (`prompt`, or `messages` with the chat fields; `add_special_tokens` as vLLM defaults it:
    /// true for a prompt, false for chat); without it, the engines' own answer.
    func tokenize(_ request: Request) async throws -> Response {
        let body = try await self.body(of: request)
        guard let model = configuration.model else {
            let answer: (engine: String, status: Int, body: Data)
            do { answer = try await engineTokenizer.forward(Data(buffer: body)) } catch {
                throw RequestError(status: .serviceUnavailable, message: "\(error)", type: "service_unavailable")
            }
            return Response(
                status: .init(code: answer.status), headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(data: answer.body)))
        }
        let value: TemplateValue
        do { value = try TemplateValue(json: body.readableBytesView) } catch {
            throw RequestError.invalid("the request body is not valid JSON (\(error.message))")
        }
        guard case .object(let o) = value else { throw RequestError.invalid("the request body is not a JSON object") }
        func flag(_ key: String, _ fallback: Bool) throws(RequestError) -> Bool {
            switch o[key] {
            case nil, .null?: return fallback
            case .bool(let b)?: return b
            default: throw RequestError.invalid("'\(key)' must be true or false", param: key)
            }
        }
        let ids: [UInt32]
        if o["messages"] != nil {
            let chat: ChatRequest
            do { chat = try ChatRequest(body: value) } catch { throw RequestError.invalid(error.message, param: error.field) }
            let special = try flag("add_special_tokens", false)
            if model.chatTemplate == nil {
                ids = try await tokens(of: .chat(chat), model: o["model"]?.stringValue)
            } else {
                ids = try await InProcessTokenizer.run(size: InProcessTokenizer.size(of: chat)) {
                    do { return try model.encode(chat: chat, addSpecialTokens: special) } catch let error as TemplateError {
                        throw RequestError.invalid(
                            error.kind == .raised ? "the chat template refused the conversation: \(error.message)" : "\(error)",
                            param: error.field ?? "messages")
                    }
                }
            }
        } else {
            guard case .string(let prompt)? = o["prompt"] else {
                throw RequestError.invalid("'prompt' must be a string (or give 'messages')", param: "prompt")
            }
            let special = try flag("add_special_tokens", true)
            ids = try await InProcessTokenizer.run(size: prompt.utf8.count) { model.encode(text: prompt, addSpecialTokens: special) }
        }
        var out = ByteBuffer()
        out.reserveCapacity(48 + ids.count * 7)
        out.writeString(
            "{\"count\":\(ids.count),\"max_model_len\":\(directory.maximumModelLength ?? model.maximumLength ?? 0),\"tokens\":[")
        for (k, id) in ids.enumerated() {
            if k > 0 { out.writeInteger(UInt8(ascii: ",")) }
            out.writeString(String(id))
        }
        out.writeString("]}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: out))
    }

    // MARK: GET /v1/models, /health

    /// `GET /v1/models`: the models of every engine in rotation, merged by id.
    func models() async -> Response {
        let urls = directory.upURLs()
        let exchange = exchange
        let answers = await withTaskGroup(of: Data?.self) { group in
            for url in urls {
                group.addTask {
                    guard let (status, body) = try? await exchange.call(url + "/v1/models"), status == 200 else { return nil }
                    return body
                }
            }
            var all: [Data] = []
            for await a in group { if let a { all.append(a) } }
            return all
        }
        let cards = answers.flatMap { data -> [[String: Any]] in
            ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["data"] as? [[String: Any]] ?? []
        }
        var seen = Set<String>()
        var merged: [[String: Any]] = []
        for card in cards {
            guard let id = card["id"] as? String, seen.insert(id).inserted else { continue }
            merged.append(card)
        }
        guard !answers.isEmpty else {
            return RequestError(status: .serviceUnavailable, message: "no engine is in rotation", type: "service_unavailable").response
        }
        return Self.json(["object": "list", "data": merged], status: .ok)
    }

    /// `GET /health`: 200 while some engine is in rotation, else 503; the body says each
    /// node's state, what the index holds, and what the KV-event subscriber counted.
    func health() -> Response {
        let engines = directory.report()
        let up = engines.contains { ($0["up"] as? Bool) == true }
        let snapshot = router.snapshot
        let load = gate.load
        var body: [String: Any] = [
            "status": up ? "ok" : "no engine in rotation", "engines": engines, "indexedBlocks": snapshot.indexedBlocks,
            "inFlight": load.running, "queued": load.queued, "routerInFlight": snapshot.inFlight,
        ]
        if let stats = subscriber?.statistics {
            body["events"] = [
                "batches": stats.batches, "events": stats.events, "malformed": stats.malformed, "gaps": stats.gaps,
                "replayedBatches": stats.replayedBatches, "lostRanges": stats.lostRanges, "failedReplays": stats.failedReplays,
                "blockSizeMismatches": stats.blockSizeMismatches, "rankMismatches": stats.rankMismatches,
                "resumedEndpoints": stats.resumedEndpoints, "rebuiltEndpoints": stats.rebuiltEndpoints,
                "publisherRestarts": stats.publisherRestarts, "connectReplays": stats.connectReplays,
            ]
        }
        let state = stateKeeper.current
        if configuration.stateDirectory != nil || state.restoredFrom != nil {
            body["state"] = [
                "restoredFrom": state.restoredFrom.map { $0 as Any } ?? NSNull(), "restoredBlocks": state.restoredBlocks,
                "writes": state.writes,
                "lastBytes": state.lastBytes, "lastWriteSeconds": state.lastSeconds,
            ]
        }
        return Self.json(body, status: up ? .ok : .serviceUnavailable)
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(data: data)))
    }

    // MARK: Health checks

    /// One round of active health checks: each engine's `GET /health`, and the adapters and
    /// context length its `GET /v1/models` lists.
    func checkEngines() async {
        let exchange = exchange
        await withTaskGroup(of: Void.self) { group in
            for spec in directory.specs {
                group.addTask {
                    // One address answers for all the engine's ranks.
                    do {
                        let (status, _) = try await exchange.call(spec.url + "/health")
                        guard status == 200 else {
                            let failure = _JSONExchange.Failure(description: "health check answered \(status)")
                            self.directory.recordFailure(engine: spec, error: failure)
                            return
                        }
                        for node in spec.nodes { self.directory.recordSuccess(node) }
                        if let (status, body) = try? await exchange.call(spec.url + "/v1/models"), status == 200 {
                            let (adapters, length) = Self.modelInfo(inModelList: body)
                            for node in spec.nodes {
                                self.directory.setModelInfo(adapters: adapters, maximumModelLength: length, of: node)
                            }
                        }
                    } catch {
                        self.directory.recordFailure(engine: spec, error: error)
                    }
                }
            }
        }
    }

    /// The ids of the model cards that name a `parent` (vLLM lists LoRA adapters that way),
    /// and the base model's `max_model_len`.
    static func modelInfo(inModelList body: Data) -> (adapters: Set<String>, maximumModelLength: Int?) {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let cards = object["data"] as? [[String: Any]]
        else { return ([], nil) }
        let adapters = Set(cards.compactMap { card in card["parent"] is String ? card["id"] as? String : nil })
        let length = cards.first { !($0["parent"] is String) }?["max_model_len"] as? Int
        return (adapters, length)
    }
}
