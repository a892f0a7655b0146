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

Data parallel (--dp N): N ranks behind the one HTTP address, each with its own pool, GPU lock
and event stream; rank r publishes on the PUB and replay ports plus r, naming its rank in every
batch, as vLLM does. A request with `X-data-parallel-rank: r` runs on rank r, any other on the
ranks in turn; the answer's `x-double-rank` header names the rank.

Disaggregated (--role prefill|decode), vLLM's NixlConnector protocol: a prefill engine takes
requests whose `kv_transfer_params` say `do_remote_decode: true` (non-streamed, one output
token) and answers with `kv_transfer_params` naming its blocks; a decode engine given those
params takes the prompt's blocks as transferred (no prefill time) and decodes. A decode engine
given no params prefills itself. Whatever breaks the protocol (a whole request on a prefill
engine, a prefill-only request on a decode engine, a prefill request that streams or asks for
more than one token) is counted in `GET /debug/stats`, which also lists the last 4,096 answer
bodies sent. `POST /debug/misranked` publishes one batch on rank 0's stream that names
another rank. `--replay-buffer N` keeps only the last N batches for replay (vLLM keeps 10,000);
`POST /debug/restart` empties every pool and starts the event streams again from batch 0 with
an empty replay buffer, as a restarted engine does.

Prints one JSON line when ready: {"ready": true, "port": P, "events": ADDR, "replay": ADDR}
(rank 0's addresses).

  python3 engine_double.py [--port 0] [--model double] [--adapters a,b] [--capacity-blocks 4096]
                           [--dp 1] [--role both|prefill|decode]
"""
import argparse, collections, hashlib, itertools, json, os, random, sys, threading, time
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
ap.add_argument("--dp", type=int, default=1, help="data-parallel ranks, each with its own pool and event stream")
ap.add_argument("--role", choices=["both", "prefill", "decode"], default="both")
ap.add_argument("--replay-buffer", type=int, default=50_000, help="batches kept for replay")
ap.add_argument("--event-interval-ms", type=float, default=0.0,
                help="publish the KV events of each interval in one batch, as vLLM publishes once per engine step "
                     "(0: one batch per request)")
ap.add_argument("--no-transfer-params", action="store_true", help="a broken prefill engine: answers without kv_transfer_params")
args = ap.parse_args()
BS = args.block_size
ADAPTERS = [a for a in args.adapters.split(",") if a]
CREATED = 1_700_000_000


class Pool:
    """An LRU pool of blocks keyed by their vLLM hash; publishes every change."""

    def __init__(self, capacity, rank=0, ctx=None, pub=None, replay=None):
        self.capacity = capacity
        self.rank = rank
        self.blocks = collections.OrderedDict()   # digest -> None, least recent first
        self.lock = threading.Lock()
        self.enc = msgspec.msgpack.Encoder()
        self.seq = 0
        self.buffer = collections.deque(maxlen=args.replay_buffer)
        self.pub, self.replay = pub, replay
        self.pending = []                         # events of the current step (--event-interval-ms)
        if replay is not None:
            threading.Thread(target=self.serve_replays, daemon=True).start()
        if pub is not None and args.event_interval_ms > 0:
            threading.Thread(target=self.publish_steps, daemon=True).start()

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

    def publish(self, events, rank=None):
        """Publishes one batch of events (called with the lock held), or adds them to the
        current step's batch when steps are on."""
        if self.pub is None:
            return
        if args.event_interval_ms > 0 and rank is None:
            self.pending.extend(events)
            return
        rank = self.rank if rank is None else rank
        payload = self.enc.encode(KVEventBatch(ts=time.time(), events=events, data_parallel_rank=rank))
        s = self.seq
        self.seq += 1
        self.buffer.append((s, payload))
        self.pub.send_multipart([b"", s.to_bytes(8, "big"), payload])

    def publish_steps(self):
        """Every --event-interval-ms, the events since the last step in one batch."""
        while True:
            time.sleep(args.event_interval_ms / 1000)
            with self.lock:
                events, self.pending = self.pending, []
                if events:
                    payload = self.enc.encode(KVEventBatch(ts=time.time(), events=events, data_parallel_rank=self.rank))
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


def bind_ranks(ctx, n):
    """PUB and replay ROUTER sockets for n ranks on consecutive ports (rank r: base + r)."""
    while True:
        pub_base = random.randint(20_000, 60_000 - 2 * n)
        replay_base = pub_base + n
        sockets = []
        try:
            for r in range(n):
                p = ctx.socket(zmq.PUB)
                sockets.append(p)
                p.bind(f"tcp://127.0.0.1:{pub_base + r}")
            for r in range(n):
                q = ctx.socket(zmq.ROUTER)
                sockets.append(q)
                q.bind(f"tcp://127.0.0.1:{replay_base + r}")
            return pub_base, replay_base, sockets[:n], sockets[n:]
        except zmq.ZMQError:
            for sock in sockets:
                sock.close(linger=0)


ctx = zmq.Context()
if args.no_events:
    pools = [Pool(args.capacity_blocks, r) for r in range(args.dp)]
else:
    PUB_BASE, REPLAY_BASE, pubs, replays = bind_ranks(ctx, args.dp)
    pools = [Pool(args.capacity_blocks, r, ctx, pubs[r], replays[r]) for r in range(args.dp)]
gpus = [threading.Lock() for _ in range(args.dp)]
turn = itertools.count()
stats_lock = threading.Lock()
STATS = {"requests": 0, "ranks": [0] * args.dp, "remote_prefill": 0, "local_prefill": 0, "prefill_only": 0,
         "prompt_tokens": 0, "cached_tokens": 0, "tokenize": 0, "violations": [],
         "answers": collections.deque(maxlen=4096)}


LOAD = [{"running": 0, "waiting": 0} for _ in range(args.dp)]


def load(rank, key, delta):
    with stats_lock:
        LOAD[rank][key] += delta


def count(key, value=1):
    with stats_lock:
        STATS[key] += value


def violation(why):
    with stats_lock:
        STATS["violations"].append(why)
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

    rank = None

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if self.rank is not None:
            self.send_header("x-double-rank", str(self.rank))
        self.end_headers()
        self.wfile.write(data)
        if self.path in ("/v1/completions", "/v1/chat/completions"):
            with stats_lock:
                STATS["answers"].append(data.decode())

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
        elif self.path == "/metrics":
            # vLLM's gauges, one sample per data-parallel engine (its `engine` label).
            with stats_lock:
                lines = ["# TYPE vllm:num_requests_running gauge", "# TYPE vllm:num_requests_waiting gauge"]
                for r, l in enumerate(LOAD):
                    labels = f'{{engine="{r}",model_name="{args.model}"}}'
                    lines.append(f"vllm:num_requests_running{labels} {float(l['running'])}")
                    lines.append(f"vllm:num_requests_waiting{labels} {float(l['waiting'])}")
                    lines.append(f"vllm:kv_cache_usage_perc{labels} {len(pools[r].blocks) / pools[r].capacity}")
            data = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("content-type", "text/plain; version=0.0.4")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/debug/stats":
            with stats_lock:
                self.send_json(200, dict(STATS, answers=list(STATS["answers"])))
        elif self.path == "/get_model_info":
            self.send_json(200, {"model_path": args.model, "tokenizer_path": args.model, "is_generation": True})
        else:
            self.send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found", "code": 404}})

    def do_POST(self):
        self.rank = None
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            body = json.loads(raw)
        except ValueError:
            return self.send_json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error", "code": 400}})
        if self.path == "/tokenize" and not args.no_tokenize:
            count("tokenize")
            try:
                tokens = (chat_tokens(body) if "messages" in body
                          else text_tokens(body.get("prompt", ""), bool(body.get("add_special_tokens", True))))
            except BadRequest as e:
                return self.send_json(400, {"error": {"message": str(e), "type": "BadRequestError", "code": 400}})
            return self.send_json(200, {"count": len(tokens), "max_model_len": args.max_model_len, "tokens": tokens})
        if self.path == "/debug/restart":
            for pool in pools:
                with pool.lock:
                    pool.blocks.clear()
                    pool.buffer.clear()
                    pool.seq = 0
                    pool.pending = []
            return self.send_json(200, {"restarted": True})
        if self.path == "/debug/misranked":
            wrong = (pools[0].rank + 1) % max(2, args.dp)
            with pools[0].lock:
                pools[0].publish([BlockStored(block_hashes=[12345], parent_block_hash=None, token_ids=list(range(BS)),
                                              block_size=BS, lora_id=None, medium="GPU", lora_name=None)], rank=wrong)
            return self.send_json(200, {"published_rank": wrong})
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
        header = self.headers.get("x-data-parallel-rank")
        rank = int(header) if header is not None else next(turn) % args.dp
        if not 0 <= rank < args.dp:
            return self.send_json(400, {"error": {"message": f"no rank {rank}", "type": "BadRequestError", "code": 400}})
        params = body.get("kv_transfer_params")
        prefill_only = isinstance(params, dict) and params.get("do_remote_decode") is True
        remote = isinstance(params, dict) and params.get("do_remote_prefill") is True
        count("requests")
        with stats_lock:
            STATS["ranks"][rank] += 1
        if args.role == "prefill":
            if not prefill_only:
                violation("a prefill engine received a whole request")
            elif body.get("stream") or int(body.get("max_tokens") or 0) != 1 or "stream_options" in body \
                    or "min_tokens" in body or body.get("max_completion_tokens", 1) != 1:
                violation("a prefill request that streams, or asks for more than one token")
        elif args.role == "decode":
            if prefill_only:
                violation("a decode engine received a prefill-only request")
            elif remote and not (isinstance(params.get("remote_block_ids"), list) and params.get("remote_engine_id")):
                violation("a decode request whose kv_transfer_params name no blocks")
        count("prefill_only" if prefill_only else "remote_prefill" if remote else "local_prefill")
        pool = pools[rank]
        load(rank, "waiting", 1)
        try:
            return self.serve(body, raw, chat, model, tokens, adapter, rank, pool, prefill_only, remote)
        finally:
            load(rank, "running", -1)

    def serve(self, body, raw, chat, model, tokens, adapter, rank, pool, prefill_only, remote):
        with gpus[rank]:
            load(rank, "waiting", -1)
            load(rank, "running", 1)
            cached = pool.admit(tokens, adapter)
            count("prompt_tokens", len(tokens))
            count("cached_tokens", cached)
            if not remote:
                time.sleep(args.prefill_base_ms / 1e3 + (len(tokens) - cached) * args.prefill_us_per_token / 1e6)
        self.rank = rank
        n = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        # Output derives from the request less its transfer parameters: the same request, however
        # it was prefilled, gets the same words.
        canonical = dict(body)
        canonical.pop("kv_transfer_params", None)
        digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).digest()
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
            answer = {"id": rid, "object": obj, "created": CREATED, "model": model, "choices": [choice], "usage": usage}
            if prefill_only and not args.no_transfer_params:
                answer["kv_transfer_params"] = {
                    "do_remote_prefill": True, "do_remote_decode": False, "remote_engine_id": f"double-{self.server.server_address[1]}",
                    "remote_block_ids": list(range(len(tokens) // BS)), "remote_host": "127.0.0.1",
                    "remote_port": self.server.server_address[1], "tp_size": 1}
            return self.send_json(200, answer)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("x-double-rank", str(self.rank))
        self.end_headers()
        self.wfile.flush()
        self.sent = bytearray()
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
            with stats_lock:
                STATS["answers"].append(self.sent.decode())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def chunk(self, obj):
        self.write_chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")

    def write_chunk(self, data):
        self.sent += data
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


server = Server(("127.0.0.1", args.port), Handler)
ready = {"ready": True, "port": server.server_address[1]}
if not args.no_events:
    ready["events"] = f"tcp://127.0.0.1:{PUB_BASE}"
    ready["replay"] = f"tcp://127.0.0.1:{REPLAY_BASE}"
print(json.dumps(ready), flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
