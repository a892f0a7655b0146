#!/usr/bin/env python3
"""An engine double for the gateway's tests and benchmark: a small program that speaks vLLM's
HTTP API on 127.0.0.1 over a real KV block pool, and publishes that pool's changes as vLLM KV
events over ZeroMQ.

  HTTP   POST /v1/completions, POST /v1/chat/completions (streaming as SSE, or not; `usage`
         with `prompt_tokens_details.cached_tokens`), POST /tokenize, GET /v1/models (the base
         model and its adapters, each with `parent`), GET /health, GET /get_server_info,
         GET /get_model_info (what sglang-router's worker checks ask for).
  Pool   16-token blocks (--block-size), LRU, at most --capacity-blocks; a prompt's cached
         prefix is the run of its leading blocks the pool holds (the last prompt token is
         always computed, as in vLLM). Block hashes are vLLM's: sha256 over the parent hash,
         the block's tokens and the adapter as an extra key, published as the low 64 bits.
  Events BlockStored / BlockRemoved in vLLM's msgspec Structs on a PUB socket (topic, 8-byte
         sequence, payload) and a replay ROUTER that resends buffered batches from a sequence.
  Time   one prefill at a time (a GPU's compute), sleeping --prefill-us-per-token for each
         uncached token plus --prefill-base-ms; decode sleeps --decode-ms-per-token per output
         token, concurrently (continuous batching).

Text is tokenized byte by byte (token id = byte value); a chat prompt is the bytes of
`<|role|>content\\n` for each message, then `<|assistant|>`. With --model-dir, a model directory
(tokenizer.json, tokenizer_config.json with its chat template), it tokenizes as vLLM does
instead: text with Hugging Face's tokenizer (special tokens added), chat by `transformers`'
`apply_chat_template` on vLLM's normalised messages, encoded without special tokens; a
conversation the template refuses is a 400, as in vLLM. Output is deterministic: the same
request body always gets the same bytes (id and `created` derive from the body), so a response
through the gateway can be compared byte for byte with one straight from the engine.

Prints one JSON line when ready: {"ready": true, "port": P, "events": ADDR, "replay": ADDR}.

  python3 engine_double.py [--port 0] [--model double] [--adapters a,b] [--capacity-blocks 4096]
"""
import argparse, collections, hashlib, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "KVCacheZMQTests"))
import msgspec, zmq
from vllm_events import KVEventBatch, BlockStored, BlockRemoved, block_hash, low64

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--model", default="double")
ap.add_argument("--adapters", default="")
ap.add_argument("--block-size", type=int, default=16)
ap.add_argument("--capacity-blocks", type=int, default=4096)
ap.add_argument("--prefill-base-ms", type=float, default=0.0)
ap.add_argument("--prefill-us-per-token", type=float, default=0.0)
ap.add_argument("--decode-ms-per-token", type=float, default=0.0)
ap.add_argument("--max-model-len", type=int, default=1 << 20)
ap.add_argument("--no-events", action="store_true", help="publish no KV events")
ap.add_argument("--no-tokenize", action="store_true", help="answer POST /tokenize with 404, as an engine without it")
ap.add_argument("--model-dir", default="", help="tokenize with this model directory's tokenizer and chat template")
args = ap.parse_args()
BS = args.block_size
ADAPTERS = [a for a in args.adapters.split(",") if a]
CREATED = 1_700_000_000


class Pool:
    """An LRU pool of blocks keyed by their vLLM hash; publishes every change."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.blocks = collections.OrderedDict()   # digest -> None, least recent first
        self.lock = threading.Lock()
        self.ctx = zmq.Context()
        self.enc = msgspec.msgpack.Encoder()
        self.seq = 0
        self.buffer = collections.deque(maxlen=50_000)
        self.pub = self.replay = None
        if not args.no_events:
            self.pub = self.ctx.socket(zmq.PUB)
            self.pub_port = self.pub.bind_to_random_port("tcp://127.0.0.1")
            self.replay = self.ctx.socket(zmq.ROUTER)
            self.replay_port = self.replay.bind_to_random_port("tcp://127.0.0.1")
            threading.Thread(target=self.serve_replays, daemon=True).start()

    def chain(self, tokens, adapter):
        out, parent = [], None
        extra = (adapter,) if adapter else None
        for b in range(len(tokens) // BS):
            parent = block_hash(parent, tokens[b * BS:(b + 1) * BS], extra)
            out.append(parent)
        return out

    def admit(self, tokens, adapter):
        """Looks the prompt up and stores its full blocks; the number of cached tokens."""
        hashes = self.chain(tokens, adapter)
        with self.lock:
            hit = 0
            for h in hashes[:(len(tokens) - 1) // BS]:
                if h not in self.blocks:
                    break
                hit += 1
            for h in hashes[:hit]:
                self.blocks.move_to_end(h)
            events, new = [], [k for k in range(hit, len(hashes)) if hashes[k] not in self.blocks]
            evicted = []
            for k in new:
                self.blocks[hashes[k]] = None
            while len(self.blocks) > self.capacity:
                evicted.append(self.blocks.popitem(last=False)[0])
            stored = [k for k in new if hashes[k] in self.blocks]
            # One BlockStored per run of consecutive new blocks, each naming its parent.
            runs = []
            for k in stored:
                if runs and runs[-1][-1] == k - 1:
                    runs[-1].append(k)
                else:
                    runs.append([k])
            for run in runs:
                first, last = run[0], run[-1]
                events.append(BlockStored(
                    block_hashes=[low64(hashes[k]) for k in run],
                    parent_block_hash=low64(hashes[first - 1]) if first > 0 else None,
                    token_ids=list(tokens[first * BS:(last + 1) * BS]), block_size=BS,
                    lora_id=(ADAPTERS.index(adapter) + 1) if adapter else None, medium="GPU", lora_name=adapter,
                    extra_keys=[(adapter,) for _ in run] if adapter else None))
            if evicted:
                events.insert(0, BlockRemoved(block_hashes=[low64(h) for h in evicted], medium="GPU"))
            if events:
                self.publish(events)
        return hit * BS

    def publish(self, events):
        if self.pub is None:
            return
        payload = self.enc.encode(KVEventBatch(ts=time.time(), events=events, data_parallel_rank=0))
        s = self.seq
        self.seq += 1
        self.buffer.append((s, payload))
        self.pub.send_multipart([b"", s.to_bytes(8, "big"), payload])

    def serve_replays(self):
        while True:
            frames = self.replay.recv_multipart()
            if len(frames) != 3 or len(frames[2]) != 8:
                continue
            start = int.from_bytes(frames[2], "big")
            with self.lock:
                batches = [(s, p) for s, p in self.buffer if s >= start]
            for s, payload in batches:
                self.replay.send_multipart([frames[0], b"", b"", s.to_bytes(8, "big"), payload])
            self.replay.send_multipart([frames[0], b"", b"", b"\xff" * 8, b""])


pool = Pool(args.capacity_blocks)
gpu = threading.Lock()
MODEL = None
if args.model_dir:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import PreTrainedTokenizerFast
    MODEL = PreTrainedTokenizerFast.from_pretrained(args.model_dir)


class BadRequest(Exception):
    """A request vLLM answers with 400."""


def vllm_messages(messages):
    """The messages as vLLM's chat parser hands them to the template."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list")
    out = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise BadRequest("each message must be an object with a string role")
        content = m.get("content")
        if isinstance(content, list):
            content = "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        msg = {"role": m["role"], "content": content or ""}
        if m["role"] == "assistant" and m.get("tool_calls") is not None:
            calls = []
            for c in m["tool_calls"]:
                c = dict(c)
                f = dict(c.get("function") or {})
                args_ = f.get("arguments")
                f["arguments"] = json.loads(args_) if isinstance(args_, str) and args_ else (args_ or {})
                c["function"] = f
                calls.append(c)
            msg["tool_calls"] = calls
        if m["role"] == "tool" and "tool_call_id" in m:
            msg["tool_call_id"] = m["tool_call_id"]
        if isinstance(m.get("name"), str):
            msg["name"] = m["name"]
        out.append(msg)
    return out


def chat_tokens(body):
    messages = body.get("messages")
    if MODEL is None:
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise BadRequest("messages must be a list of objects")
        text = "".join(f"<|{m.get('role', 'user')}|>{m.get('content') or ''}\n" for m in messages) + "<|assistant|>"
        return list(text.encode())
    try:
        text = MODEL.apply_chat_template(
            vllm_messages(messages), tools=body.get("tools"), documents=body.get("documents"), tokenize=False,
            add_generation_prompt=body.get("add_generation_prompt", True),
            continue_final_message=body.get("continue_final_message", False), **(body.get("chat_template_kwargs") or {}))
    except BadRequest:
        raise
    except Exception as e:  # vLLM answers a template's refusal (or failure) with 400
        raise BadRequest(str(e))
    return MODEL(text, add_special_tokens=bool(body.get("add_special_tokens", False)))["input_ids"]


def text_tokens(prompt, add_special_tokens=True):
    if MODEL is None:
        return list(prompt.encode())
    return MODEL(prompt, add_special_tokens=add_special_tokens)["input_ids"]


def prompt_tokens(body, chat):
    if chat:
        return chat_tokens(body)
    prompt = body["prompt"]
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], list):
        prompt = prompt[0]
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], str):
        prompt = prompt[0]
    return text_tokens(prompt) if isinstance(prompt, str) else [int(t) for t in prompt]


def output_words(seed, n):
    return [f" w{int.from_bytes(hashlib.sha256(seed + i.to_bytes(4, 'big')).digest()[:2], 'big') % 1000}" for i in range(n)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Whole answers in one write, each flush sent at once: an unbuffered writer sends the
    # headers and the body apart, and Nagle's algorithm then holds the body for the peer's
    # delayed ACK.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()
        elif self.path == "/v1/models":
            cards = [{"id": args.model, "object": "model", "created": CREATED, "owned_by": "vllm", "root": args.model,
                      "parent": None, "max_model_len": args.max_model_len}]
            cards += [{"id": a, "object": "model", "created": CREATED, "owned_by": "vllm", "root": a, "parent": args.model,
                       "max_model_len": args.max_model_len} for a in ADAPTERS]
            self.send_json(200, {"object": "list", "data": cards})
        elif self.path == "/get_server_info":
            self.send_json(200, {"model_path": args.model, "tokenizer_path": args.model, "page_size": BS,
                                 "max_total_num_tokens": args.capacity_blocks * BS, "version": "double"})
        elif self.path == "/get_model_info":
            self.send_json(200, {"model_path": args.model, "tokenizer_path": args.model, "is_generation": True})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found", "code": 404}})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            body = json.loads(raw)
        except ValueError:
            return self.send_json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error", "code": 400}})
        if self.path == "/tokenize" and not args.no_tokenize:
            try:
                tokens = (chat_tokens(body) if "messages" in body
                          else text_tokens(body.get("prompt", ""), bool(body.get("add_special_tokens", True))))
            except BadRequest as e:
                return self.send_json(400, {"error": {"message": str(e), "type": "BadRequestError", "code": 400}})
            return self.send_json(200, {"count": len(tokens), "max_model_len": args.max_model_len, "tokens": tokens})
        if self.path not in ("/v1/completions", "/v1/chat/completions"):
            return self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found", "code": 404}})
        chat = self.path == "/v1/chat/completions"
        model = body.get("model") or args.model
        if model != args.model and model not in ADAPTERS:
            return self.send_json(404, {"error": {"message": f"model {model} does not exist", "type": "NotFoundError", "code": 404}})
        try:
            tokens = prompt_tokens(body, chat)
        except BadRequest as e:
            return self.send_json(400, {"error": {"message": str(e), "type": "BadRequestError", "code": 400}})
        adapter = model if model in ADAPTERS else None
        with gpu:
            cached = pool.admit(tokens, adapter)
            time.sleep(args.prefill_base_ms / 1e3 + (len(tokens) - cached) * args.prefill_us_per_token / 1e6)
        n = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        digest = hashlib.sha256(raw).digest()
        rid = ("chatcmpl-" if chat else "cmpl-") + digest[:12].hex()
        words = output_words(digest, n)
        usage = {"prompt_tokens": len(tokens), "total_tokens": len(tokens) + n, "completion_tokens": n,
                 "prompt_tokens_details": {"cached_tokens": cached}}
        obj = "chat.completion" if chat else "text_completion"
        if not body.get("stream"):
            for _ in words:
                time.sleep(args.decode_ms_per_token / 1e3)
            text = "".join(words)
            choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None, "finish_reason": "length"}
                      if chat else {"index": 0, "text": text, "logprobs": None, "finish_reason": "length"})
            return self.send_json(200, {"id": rid, "object": obj, "created": CREATED, "model": model, "choices": [choice],
                                        "usage": usage})
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        chunk_obj = "chat.completion.chunk" if chat else "text_completion"
        try:
            for i, w in enumerate(words):
                time.sleep(args.decode_ms_per_token / 1e3)
                last = i == len(words) - 1
                if chat:
                    delta = {"role": "assistant", "content": w} if i == 0 else {"content": w}
                    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": "length" if last else None}
                else:
                    choice = {"index": 0, "text": w, "logprobs": None, "finish_reason": "length" if last else None}
                self.chunk({"id": rid, "object": chunk_obj, "created": CREATED, "model": model, "choices": [choice]})
            if (body.get("stream_options") or {}).get("include_usage"):
                self.chunk({"id": rid, "object": chunk_obj, "created": CREATED, "model": model, "choices": [], "usage": usage})
            self.write_chunk(b"data: [DONE]\n\n")
            self.write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def chunk(self, obj):
        self.write_chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")

    def write_chunk(self, data):
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


server = Server(("127.0.0.1", args.port), Handler)
ready = {"ready": True, "port": server.server_address[1]}
if pool.pub is not None:
    ready["events"] = f"tcp://127.0.0.1:{pool.pub_port}"
    ready["replay"] = f"tcp://127.0.0.1:{pool.replay_port}"
print(json.dumps(ready), flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
