#!/usr/bin/env python3
"""kvcache-gateway against sglang-router and direct round-robin, in one run, on the same engine
doubles replaying the Mooncake conversation trace.

Usage (from the package root):  python3 Benchmarks/scripts/gateway.py [--requests 2000] ...

Needs: release builds of kvcache-gateway and of Benchmarks' passthrough (built here unless
--gateway and --passthrough name them), PyPI's
`sglang-router` and `aiohttp`, and the engine doubles' own needs (pyzmq, msgspec).

Systems, each in front of fresh engine doubles (empty caches):
  kvcache-gateway kv-cost, ttft-min, cache-aware      (KV events over ZeroMQ; text prompts
                                                       tokenized by the engines' /tokenize)
  the same with +tokenizer (kv-cost+tokenizer, …)      (text prompts tokenized in process:
                                                       --tokenizer with the doubles' byte
                                                       tokenizer.json)
  any of those with +noload (default+noload, …)       (--load-interval 0: no reads of the
                                                       engines' /metrics, to price them)
  any of those with +noevents (default+noevents, …)   (no KV events: the gateway routes by
                                                       its own approximate entries, to price
                                                       the events' ingest)
  sglang-router cache_aware, sglang-router round_robin (approximate text tree / none)
  passthrough round-robin                              (Benchmarks' `passthrough`: the gateway's
                                                       server and client libraries alone, no
                                                       routing: the floor under the gateway)
  passthrough-nio                                      (the same proxy on NIO's HTTP server
                                                       pipeline without Hummingbird: prices
                                                       Hummingbird's async server layer)
  direct round-robin                                   (the client spreads requests itself)

Phases:
  conversations  a held-out multi-turn workload on engines that tokenize with a real model
            directory (--model-dir: Llama 3's 128k-token byte-level BPE and Llama 3.1's chat
            template, made by make_model.py) and render its template as vLLM does; the gateways
            get the same directory (--tokenizer). --conversations conversations of --turns user
            turns over --system-prompts shared system prompts; even ones are sent as chat
            messages, odd ones as text completions (the same conversation written out); each
            answer joins its conversation before the next turn. --clients clients run
            conversations one after another. Before the clock starts, each engine gets one chat
            and one text request of its own (its first template render and tokenize are
            one-time costs of its process, not of the router in front of it). Reports chat and
            text apart: cached-token ratio, TTFT mean and p99, the steady p99 (of the
            conversations after each client's first: without the cold start, when every client
            opens a conversation at once on empty caches), failed requests; --json also
            keeps every request (when, TTFT, conversation, turn, node, uncached tokens), the
            slowest requests, the requests and mean TTFT per node (x-kvcache-node) and the
            prefill speeds a gateway learned.
  replay    the trace's first --requests requests at their timestamps / --speedup; each
            Mooncake block id expands to 512 deterministic token ids (the doubles tokenize byte
            by byte, so a block is 512 deterministic characters); streamed, with usage. The
            doubles sleep --prefill-us-per-token per uncached token, one prefill at a time.
            Reports the cached-token ratio (sum of the engines' usage cached_tokens over the
            sum of prompt_tokens), TTFT mean and p99, and failed requests.
  latency   the doubles at zero compute; --latency-requests short distinct prompts,
            --latency-concurrency at a time; each system's latency percentiles minus direct's are
            its added latency; also its rate and the router's CPU time per request there.
  latency-ids  the same with 1,000 token ids as the prompt (no tokenize call; sglang-router
            does not take token-id prompts, so only this gateway and direct).
  rate      the doubles at zero compute; closed loop at --rate-concurrency for --rate-seconds;
            completed requests per second (the highest rate the system sustains here), the
            router's CPU time per request (its process and children, from /proc), and the
            latency percentiles minus direct's at that concurrency (its added latency under load).
  first-byte  the doubles at zero compute; --first-byte-requests streamed completions of one
            token, one at a time: each system's median and p99 time to the first byte of the
            answer's body and to its end. Against direct's, what a router adds to a streamed
            answer's first token on an idle fleet (a transport stall, such as a small write held
            for the client's delayed acknowledgement, shows here and nowhere else as clearly).
  --repeat N runs the conversations, latency, rate and first-byte phases N times, the systems
  interleaved, and reports each figure's median (and, for conversations, each gateway's TTFT
  against sglang-router's run by run).
"""
import argparse, re, asyncio, json, os, random, signal, socket, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DOUBLE = os.path.join(ROOT, "Tests", "KVCacheGatewayTests", "engine_double.py")
# The doubles tokenize byte by byte; this tokenizer.json does the same in the gateway.
BYTE_TOKENIZER = os.path.join(ROOT, "Tests", "KVCacheTokenizersTests", "Fixtures", "bytes.tokenizer.json")
TRACE = os.path.normpath(os.path.join(ROOT, "..", "shared", "traces", "conversation_trace.jsonl"))
MOONCAKE_BLOCK = 512
ALPHABET = "abcdefghijklmnopqrstuvwxyz "

try:
    import aiohttp
except ImportError:
    sys.exit("gateway.py: needs aiohttp (pip install aiohttp sglang-router)")

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--trace", default=TRACE)
ap.add_argument("--requests", type=int, default=2000, help="first N requests of the trace")
ap.add_argument("--speedup", type=float, default=8, help="trace time / replay time")
ap.add_argument("--engines", type=int, default=4)
ap.add_argument("--capacity-blocks", type=int, nargs="+", default=[65536, 262144],
                help="16-token blocks per engine; one replay per value")
ap.add_argument("--prefill-us-per-token", type=float, default=10)
ap.add_argument("--prefill-base-ms", type=float, default=2)
ap.add_argument("--decode-ms-per-token", type=float, default=1)
ap.add_argument("--max-output", type=int, default=8, help="cap on the trace's output_length")
ap.add_argument("--event-interval-ms", type=float, default=0,
                help="the doubles publish each interval's KV events in one batch, as vLLM publishes once per engine "
                     "step (default 0: one batch per request, the most messages a router can be sent)")
ap.add_argument("--latency-requests", type=int, default=2000)
ap.add_argument("--latency-concurrency", type=int, default=4)
ap.add_argument("--first-byte-requests", type=int, default=300)
ap.add_argument("--rate-concurrency", type=int, default=64)
ap.add_argument("--rate-seconds", type=float, default=10)
ap.add_argument("--model-dir", default=os.path.join(ROOT, "Benchmarks", "data", "llama3"),
                help="model directory for the conversations phase (default: made by make_model.py when missing)")
ap.add_argument("--conversations", type=int, default=256)
ap.add_argument("--turns", type=int, default=6)
ap.add_argument("--system-prompts", type=int, default=8)
ap.add_argument("--clients", type=int, default=16)
ap.add_argument("--conversation-capacity-blocks", type=int, default=16384,
                help="16-token blocks per engine in the conversations phase")
ap.add_argument("--conversation-output", type=int, default=24, help="max_tokens of each conversation turn")
ap.add_argument("--gateway", help="kvcache-gateway binary (default: build it in release)")
ap.add_argument("--gateway-args", default="", help="more flags for every kvcache-gateway system (split on spaces)")
ap.add_argument("--router-log", help="directory for each kvcache-gateway's log, at trace level (each routing decision)")
ap.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                help="a named set of extra kvcache-gateway flags; system SYSTEM@NAME is SYSTEM run with them, so "
                     "two settings are measured in the same run (e.g. --variant spec='--speculative-ttl 2' "
                     "--systems default,default@spec)")
ap.add_argument("--variant-gateway", action="append", default=[], metavar="NAME=PATH",
                help="a named kvcache-gateway binary; system SYSTEM@NAME runs it instead of --gateway, so two "
                     "builds are measured in the same run (e.g. a release build of an earlier commit in a "
                     "git worktree: --variant-gateway before=../before/.build/release/kvcache-gateway "
                     "--systems default+tokenizer,default+tokenizer@before). A NAME may also be a --variant.")
ap.add_argument("--passthrough", help="Benchmarks' passthrough binary (default: build it in release)")
ap.add_argument("--systems",
                default="kv-cost,kv-cost+tokenizer,ttft-min+tokenizer,cache-aware,cache_aware,round_robin,passthrough,direct")
ap.add_argument("--phases", default="conversations,replay,latency,latency-ids,rate")
ap.add_argument("--repeat", type=int, default=1,
                help="runs of the conversations, latency, rate and first-byte phases, systems interleaved; each figure is "
                     "the median")
ap.add_argument("--json", help="also write every figure here")
args = ap.parse_args()
for name in ("repeat", "requests", "engines", "latency_requests", "latency_concurrency", "first_byte_requests", "rate_concurrency", "max_output",
             "conversations", "turns", "system_prompts", "clients", "conversation_capacity_blocks", "conversation_output"):
    if getattr(args, name) < 1:
        sys.exit(f"gateway.py: --{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}")
if args.speedup <= 0 or args.rate_seconds <= 0 or min(args.capacity_blocks) < 1:
    sys.exit("gateway.py: --speedup and --rate-seconds must be positive, --capacity-blocks at least 1")

SYSTEMS = {
    "default": "kvcache-gateway (default selector)",
    "kv-cost": "kvcache-gateway kv-cost",
    "round-robin": "kvcache-gateway round-robin",
    "threshold-balanced": "kvcache-gateway threshold-balanced",
    "ttft-min": "kvcache-gateway ttft-min",
    "cache-aware": "kvcache-gateway cache-aware",
    "cache-affinity": "kvcache-gateway cache-affinity",
    "cache_aware": "sglang-router cache_aware",
    "round_robin": "sglang-router round_robin",
    "passthrough": "passthrough round-robin",
    "passthrough-nio": "passthrough on NIO handlers",
    "direct": "direct round-robin",
}
GATEWAY_SELECTORS = {"default", "kv-cost", "ttft-min", "cache-aware", "cache-affinity", "round-robin", "threshold-balanced"}
GATEWAYS = GATEWAY_SELECTORS | {s + "+tokenizer" for s in GATEWAY_SELECTORS}
SYSTEMS.update({s + "+tokenizer": SYSTEMS[s] + " +tok" for s in GATEWAY_SELECTORS})
# +noload: the gateway without its engine load reads (--load-interval 0), to price them.
SYSTEMS.update({s + "+noload": SYSTEMS[s] + " -load" for s in list(GATEWAYS)})
GATEWAYS = GATEWAYS | {s + "+noload" for s in GATEWAYS}
# +noevents: the gateway without KV events (no events= address; it routes by its own
# approximate entries), to price their ingest.
SYSTEMS.update({s + "+noevents": SYSTEMS[s] + " -events" for s in list(GATEWAYS)})
GATEWAYS = GATEWAYS | {s + "+noevents" for s in GATEWAYS}
VARIANTS = {}
for v in args.variant:
    name, sep, flags = v.partition("=")
    if not sep or not name:
        sys.exit(f"gateway.py: --variant '{v}': expected NAME=FLAGS")
    VARIANTS[name] = flags.split()
VARIANT_GATEWAYS = {}
for v in args.variant_gateway:
    name, sep, path = v.partition("=")
    if not sep or not name or not path:
        sys.exit(f"gateway.py: --variant-gateway '{v}': expected NAME=PATH")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit(f"gateway.py: --variant-gateway '{v}': {path} is not an executable file")
    VARIANT_GATEWAYS[name] = os.path.abspath(path)
for s in args.systems.split(","):
    base, at, name = s.partition("@")
    if at and name not in VARIANTS and name not in VARIANT_GATEWAYS:
        sys.exit(f"gateway.py: --systems: '{s}' names no --variant or --variant-gateway '{name}'")
    if at and base in GATEWAYS:
        SYSTEMS[s] = f"{SYSTEMS[base]} [{name}]"
        GATEWAYS = GATEWAYS | {s}
for s in args.systems.split(","):
    if s not in SYSTEMS:
        sys.exit(f"gateway.py: --systems: unknown system '{s}' (known: {', '.join(SYSTEMS)})")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def release_binary(given, package, product):
    """`given`, or `product` of the package at `package`, built in release."""
    if given:
        return given
    log(f"+ swift build -c release --product {product}  (in {os.path.relpath(package, ROOT)})")
    subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=package, check=True,
                   stdout=subprocess.DEVNULL)
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=package, check=True,
                         capture_output=True, text=True).stdout.strip()
    return os.path.join(out, product)


class Fleet:
    """Engine doubles and, in front of them, one system; all stopped on exit."""

    def __init__(self, capacity, prefill_us, prefill_base_ms, decode_ms, model_dir=None):
        self.procs, self.engines, self.model_dir = [], [], model_dir
        extra = ["--model-dir", model_dir, "--model", "llama3"] if model_dir else []
        for _ in range(args.engines):
            p = subprocess.Popen([sys.executable, DOUBLE, "--capacity-blocks", str(capacity),
                                  "--prefill-us-per-token", str(prefill_us), "--prefill-base-ms", str(prefill_base_ms),
                                  "--decode-ms-per-token", str(decode_ms),
                                  "--event-interval-ms", str(args.event_interval_ms), *extra],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.procs.append(p)
        for p in self.procs:
            self.engines.append(json.loads(p.stdout.readline()))
        self.urls = [f"http://127.0.0.1:{e['port']}" for e in self.engines]
        self.model = "llama3" if model_dir else "double"
        self.router = None

    def start(self, system, binaries):
        if system == "direct":
            return None
        port = free_port()
        if system in GATEWAYS:
            system, _, variant = system.partition("@")
            events = not system.endswith("+noevents")
            base = system.removesuffix("+noevents")
            load = not base.endswith("+noload")
            base = base.removesuffix("+noload")
            selector, _, tokenizer = base.partition("+")
            cmd = [VARIANT_GATEWAYS.get(variant, binaries["gateway"]), "--port", str(port),
                   "--log-level", "trace" if args.router_log else "error"]
            if not load:
                cmd += ["--load-interval", "0"]
            if selector != "default":
                cmd += ["--selector", selector]
            if selector in ("kv-cost", "ttft-min", "cache-affinity") and not self.model_dir:
                cmd += ["--prefill-us-per-token", str(args.prefill_us_per_token), "--prefill-base-ms", str(args.prefill_base_ms)]
            if self.model_dir:
                cmd += ["--tokenizer", self.model_dir]
            elif tokenizer:
                cmd += ["--tokenizer", BYTE_TOKENIZER]
            cmd += args.gateway_args.split() + VARIANTS.get(variant, [])
            for e in self.engines:
                cmd += ["--engine", f"http://127.0.0.1:{e['port']},events={e['events']},replay={e['replay']}" if events
                        else f"http://127.0.0.1:{e['port']}"]
        elif system in ("passthrough", "passthrough-nio"):
            cmd = [binaries["passthrough"], *(["--nio"] if system == "passthrough-nio" else []), str(port), *self.urls]
        else:
            cmd = [sys.executable, "-m", "sglang_router.launch_router", "--port", str(port), "--policy", system,
                   "--log-level", "error", "--prometheus-port", str(free_port()), "--worker-urls", *self.urls]
        log_file = subprocess.DEVNULL
        if args.router_log and system in GATEWAYS:
            os.makedirs(args.router_log, exist_ok=True)
            log_file = open(os.path.join(args.router_log, f"{system}-{port}.log"), "w")
        p = subprocess.Popen(cmd, stdout=log_file, stderr=log_file)
        self.procs.append(p)
        self.router = p.pid
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            if p.poll() is not None:
                sys.exit(f"gateway.py: {SYSTEMS[system]} exited with {p.returncode}: {' '.join(cmd)}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    pass
                if asyncio.run(self._healthy(url, self.model)):
                    return url
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit(f"gateway.py: {SYSTEMS[system]} did not become healthy in 60 s")

    @staticmethod
    async def _healthy(url, model):
        try:
            async with aiohttp.ClientSession() as s:
                async with s.post(url + "/v1/completions", json={"model": model, "prompt": "warm up", "max_tokens": 1}) as r:
                    await r.read()
                    return r.status == 200
        except aiohttp.ClientError:
            return False

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def cpu_seconds(pid):
    """User and system CPU time of a process and all its descendants (sglang-router's Rust
    core may run in a child of its Python launcher)."""
    if pid is None:
        return float("nan")
    ticks, parents = os.sysconf("SC_CLK_TCK"), {}
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(d)] = int(fields[1])
            stats[int(d)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, grew = {pid}, True
    while grew:
        more = {c for c, p in parents.items() if p in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(stats.get(p, 0) for p in tree)


def block_text(cache, h):
    text = cache.get(h)
    if text is None:
        text = "".join(random.Random(h).choices(ALPHABET, k=MOONCAKE_BLOCK))
        cache[h] = text
    return text


def load_trace():
    rows, cache = [], {}
    with open(args.trace) as f:
        for line in f:
            if len(rows) == args.requests:
                break
            r = json.loads(line)
            text = "".join(block_text(cache, h) for h in r["hash_ids"])[: r["input_length"]]
            rows.append((r["timestamp"] / 1000.0, text, max(1, min(args.max_output, r["output_length"]))))
    return rows


def ceiling(rows, block=16):
    """The cached-token ratio of one engine with an unbounded cache serving every request: each
    prompt's longest run of leading 16-token blocks that any earlier prompt stored (at most
    all but its last token, as the doubles count). No router can beat it."""
    seen, cached, total = set(), 0, 0
    for _, text, _ in rows:
        data, h, hit, matching = text.encode(), 0, 0, True
        for b in range(len(data) // block):
            h = hash((h, data[b * block:(b + 1) * block]))
            if matching and b < (len(data) - 1) // block and h in seen:
                hit += 1
            else:
                matching = False
            seen.add(h)
        cached += hit * block
        total += len(data)
    return cached / total if total else float("nan")


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


class Target:
    """Where a request goes: the system's URL, or the engines in turn for direct."""

    def __init__(self, url, engines):
        self.url, self.engines, self.next = url, engines, 0

    def pick(self):
        if self.url:
            return self.url
        self.next += 1
        return self.engines[self.next % len(self.engines)]


async def streamed(session, base, prompt, max_tokens):
    """One streamed completion: (ok, ttft seconds, prompt tokens, cached tokens)."""
    body = {"model": "double", "prompt": prompt, "max_tokens": max_tokens, "stream": True,
            "stream_options": {"include_usage": True}}
    start = time.perf_counter()
    ttft, usage, buf = None, None, b""
    try:
        async with session.post(base + "/v1/completions", json=body) as r:
            if r.status != 200:
                await r.read()
                return False, None, 0, 0
            async for chunk in r.content.iter_any():
                if ttft is None:
                    ttft = time.perf_counter() - start
                buf += chunk
        for event in buf.split(b"\n\n"):
            if event.startswith(b"data: {") and b'"usage"' in event:
                usage = json.loads(event[6:]).get("usage")
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False, None, 0, 0
    if ttft is None or not usage:
        return False, None, 0, 0
    return True, ttft, usage["prompt_tokens"], (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)


async def replay(target, rows):
    results = []
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        t0 = time.perf_counter()
        tasks = []
        for ts, prompt, max_tokens in rows:
            delay = t0 + ts / args.speedup - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(streamed(session, target.pick(), prompt, max_tokens)))
        results = await asyncio.gather(*tasks)
    ok = [r for r in results if r[0]]
    ttfts = [r[1] for r in ok]
    prompt = sum(r[2] for r in ok)
    return {
        "requests": len(results), "failed": len(results) - len(ok),
        "cached_ratio": sum(r[3] for r in ok) / prompt if prompt else float("nan"),
        "ttft_mean": statistics.fmean(ttfts) if ttfts else float("nan"), "ttft_p50": pct(ttfts, 0.5),
        "ttft_p99": pct(ttfts, 0.99),
    }


WORDS = ("the cache holds blocks of keys and values for every prefix a request shares with another so the "
         "engine skips recomputing them router gateway prompt tokens conversation assistant user system answer "
         "question model serving latency throughput memory policy eviction transfer prefill decode batch queue "
         "engine node cluster schedule request response stream usage metric signal trace replay index hash").split()


def words(seed, n):
    r = random.Random(repr(seed))
    return " ".join(r.choice(WORDS) for _ in range(n))


def conversation_plan():
    """Each conversation: its system prompt and its user turns (deterministic)."""
    systems = [f"You are assistant {k}. " + words(("system", k), 700) for k in range(args.system_prompts)]
    plan = []
    for c in range(args.conversations):
        r = random.Random(f"conversation {c}")
        turns = [words(("turn", c, t), r.randint(60, 160)) + "?" for t in range(args.turns)]
        plan.append((systems[r.randrange(len(systems))], turns))
    return plan


def as_text(system, history, user):
    lines = [f"System: {system}", ""]
    for u, a in history:
        lines += [f"User: {u}", f"Assistant: {a}"]
    lines += [f"User: {user}", "Assistant:"]
    return "\n".join(lines)


async def streamed_turn(session, base, model, chat, system, history, user):
    """One streamed turn: (ok, ttft seconds, prompt tokens, cached tokens, answer text, start)."""
    if chat:
        messages = [{"role": "system", "content": system}]
        for u, a in history:
            messages += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": user})
        path, body = "/v1/chat/completions", {"messages": messages}
    else:
        path, body = "/v1/completions", {"prompt": as_text(system, history, user)}
    body.update({"model": model, "max_tokens": args.conversation_output, "stream": True,
                 "stream_options": {"include_usage": True}})
    start = time.perf_counter()
    ttft, usage, buf = None, None, b""
    try:
        async with session.post(base + path, json=body) as r:
            node = r.headers.get("x-kvcache-node")
            if r.status != 200:
                await r.read()
                return False, None, 0, 0, "", start, None
            async for chunk in r.content.iter_any():
                if ttft is None:
                    ttft = time.perf_counter() - start
                buf += chunk
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False, None, 0, 0, "", start, None
    answer = []
    for event in buf.split(b"\n\n"):
        if not event.startswith(b"data: {"):
            continue
        obj = json.loads(event[6:])
        usage = obj.get("usage") or usage
        for choice in obj.get("choices") or []:
            answer.append((choice.get("delta") or {}).get("content") or choice.get("text") or "")
    if ttft is None or not usage:
        return False, None, 0, 0, "", start, None
    return True, ttft, usage["prompt_tokens"], (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0), \
        "".join(answer).strip(), start, node


async def warm_engines(session, engines, model):
    """One chat and one text request straight to each engine, before anything is measured: an
    engine's first chat template render and first tokenize of each kind are one-time costs of
    its process (the template compiles, code paths load), not of the router in front of it.
    The prompts share no block with the workload."""
    for url in engines:
        for chat in (True, False):
            await streamed_turn(session, url, model, chat, "Warm-up system prompt.", [], "Warm-up question?")


def conversation_medians(rs):
    """One system's conversation runs: each figure's median, and every run."""
    out = {"router_cpu_us_per_request": statistics.median(r["router_cpu_us_per_request"] for r in rs), "runs": rs}
    for kind in ("chat", "text"):
        out[kind] = {k: statistics.median(r[kind][k] for r in rs)
                     for k in ("requests", "failed", "cached_ratio", "ttft_mean", "ttft_p50", "ttft_p99", "ttft_p99_steady")}
    return out


async def learned_speeds(session, url):
    """The prefill speeds a kvcache-gateway learned per node (its /metrics), else {}."""
    if not url:
        return {}
    try:
        async with session.get(url + "/metrics") as r:
            text = await r.text() if r.status == 200 else ""
    except aiohttp.ClientError:
        return {}
    speeds = {}
    for line in text.splitlines():
        m = re.match(r'\w+_prefill_(base_seconds|seconds_per_token)\{node="(\d+)"\} (\S+)', line)
        if m:
            speeds.setdefault(m.group(2), {})[m.group(1)] = float(m.group(3))
    return speeds


async def conversations(target, model, router_pid):
    plan = conversation_plan()
    results = {"chat": [], "text": []}
    queue = iter(range(len(plan)))
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        await warm_engines(session, target.engines, model)
        t0, cpu = time.perf_counter(), cpu_seconds(router_pid)

        async def client():
            for c in queue:
                system, turns = plan[c]
                chat = c % 2 == 0
                history = []
                for turn, user in enumerate(turns):
                    r = await streamed_turn(session, target.pick(), model, chat, system, history, user)
                    results["chat" if chat else "text"].append(r + (c, turn))
                    if not r[0]:
                        break
                    history.append((user, r[4]))
        await asyncio.gather(*(client() for _ in range(args.clients)))
        cpu = cpu_seconds(router_pid) - cpu
        learned = await learned_speeds(session, target.url)
    out = {"router_cpu_us_per_request": cpu / max(1, sum(len(v) for v in results.values())) * 1e6, "learned": learned}
    for kind, rs in results.items():
        ok = [r for r in rs if r[0]]
        ttfts = [r[1] for r in ok]
        prompt = sum(r[2] for r in ok)
        out[kind] = {"requests": len(rs), "failed": len(rs) - len(ok),
                     "cached_ratio": sum(r[3] for r in ok) / prompt if prompt else float("nan"),
                     "ttft_mean": statistics.fmean(ttfts) if ttfts else float("nan"), "ttft_p50": pct(ttfts, 0.5),
                     "ttft_p99": pct(ttfts, 0.99),
                     "ttft_p99_steady": pct([r[1] for r in ok if r[7] >= args.clients], 0.99),
                     "log": [[round(r[5] - t0, 4), round(r[1], 4), r[7], r[8], r[6], r[2] - r[3]] for r in ok],
                     "slowest": [{"at": r[5] - t0, "ttft": r[1], "prompt_tokens": r[2], "cached_tokens": r[3],
                                  "node": r[6]} for r in sorted(ok, key=lambda r: r[1])[-12:]],
                     "by_node": {n: {"requests": len(v), "uncached_tokens": sum(r[2] - r[3] for r in v),
                                     "ttft_mean": statistics.fmean(r[1] for r in v)}
                                 for n in sorted({r[6] for r in ok if r[6] is not None})
                                 for v in [[r for r in ok if r[6] == n]]}}
    return out


def short_prompt(i):
    return f"request {i} " + "".join(random.Random(i).choices(ALPHABET, k=1000))


def short_ids(i):
    r = random.Random(i)
    return [r.randrange(1, 50_000) for _ in range(1000)]


async def latency(target, router_pid, ids=False):
    lat, failed = [], 0
    counter = iter(range(args.latency_requests))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def worker():
            nonlocal failed
            for i in counter:
                body = {"model": "double", "prompt": short_ids(i) if ids else short_prompt(i), "max_tokens": 1}
                start = time.perf_counter()
                try:
                    async with session.post(target.pick() + "/v1/completions", json=body) as r:
                        await r.read()
                        if r.status != 200:
                            failed += 1
                            continue
                except aiohttp.ClientError:
                    failed += 1
                    continue
                lat.append(time.perf_counter() - start)
        start, cpu = time.perf_counter(), cpu_seconds(router_pid)
        await asyncio.gather(*(worker() for _ in range(args.latency_concurrency)))
        elapsed, cpu = time.perf_counter() - start, cpu_seconds(router_pid) - cpu
    return {"p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "failed": failed, "rate": len(lat) / elapsed,
            "router_cpu_us_per_request": cpu / max(len(lat), 1) * 1e6}


async def first_byte(target, router_pid):
    firsts, lasts, failed = [], [], 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for i in range(args.first_byte_requests):
            body = {"model": "double", "prompt": short_prompt(i), "max_tokens": 1, "stream": True}
            start, first = time.perf_counter(), None
            try:
                async with session.post(target.pick() + "/v1/completions", json=body) as r:
                    async for _ in r.content.iter_any():
                        if first is None:
                            first = time.perf_counter() - start
                    if r.status != 200 or first is None:
                        failed += 1
                        continue
            except aiohttp.ClientError:
                failed += 1
                continue
            firsts.append(first)
            lasts.append(time.perf_counter() - start)
    return {"first_p50": pct(firsts, 0.5), "first_p99": pct(firsts, 0.99), "last_p50": pct(lasts, 0.5),
            "last_p99": pct(lasts, 0.99), "failed": failed}


async def rate(target, router_pid):
    done, failed, lat = 0, 0, []
    stop = time.perf_counter() + args.rate_seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def worker(w):
            nonlocal done, failed
            i = w
            while time.perf_counter() < stop:
                i += args.rate_concurrency
                body = {"model": "double", "prompt": short_prompt(i), "max_tokens": 1}
                sent = time.perf_counter()
                try:
                    async with session.post(target.pick() + "/v1/completions", json=body) as r:
                        await r.read()
                        if r.status == 200:
                            done += 1
                            lat.append(time.perf_counter() - sent)
                        else:
                            failed += 1
                except aiohttp.ClientError:
                    failed += 1
        start, cpu = time.perf_counter(), cpu_seconds(router_pid)
        await asyncio.gather(*(worker(w) for w in range(args.rate_concurrency)))
        elapsed, cpu = time.perf_counter() - start, cpu_seconds(router_pid) - cpu
    return {"rate": done / elapsed, "failed": failed, "router_cpu_us_per_request": cpu / max(done, 1) * 1e6,
            "p50": pct(lat, 0.5), "p99": pct(lat, 0.99)}


def main():
    systems = args.systems.split(",")
    phases = set(args.phases.split(","))
    binaries = {
        "gateway": release_binary(args.gateway, ROOT, "kvcache-gateway") if GATEWAYS & set(systems) else None,
        "passthrough": release_binary(args.passthrough, os.path.join(ROOT, "Benchmarks"), "passthrough")
        if {"passthrough", "passthrough-nio"} & set(systems) else None,
    }
    figures = {"settings": vars(args), "conversations": {}, "replay": {}, "latency": {}, "latency-ids": {}, "rate": {},
               "first-byte": {}}
    if "conversations" in phases:
        if not os.path.exists(os.path.join(args.model_dir, "tokenizer.json")):
            subprocess.run([sys.executable, os.path.join(HERE, "make_model.py"), "--out", args.model_dir], check=True)
        log(f"conversations: {args.conversations} x {args.turns} turns, {args.clients} clients, model {args.model_dir}")
        runs = {}
        for _ in range(args.repeat):
            for system in systems:
                if system in ("passthrough", "passthrough-nio") or ("+" in system and system.split("+")[0] in systems):
                    continue
                fleet = Fleet(args.conversation_capacity_blocks, args.prefill_us_per_token, args.prefill_base_ms,
                              args.decode_ms_per_token, model_dir=args.model_dir)
                try:
                    target = Target(fleet.start(system, binaries), fleet.urls)
                    r = asyncio.run(conversations(target, fleet.model, fleet.router))
                finally:
                    fleet.stop()
                runs.setdefault(system, []).append(r)
                for kind in ("chat", "text"):
                    k = r[kind]
                    log(f"  {kind:4}: {SYSTEMS[system]:34} cached {k['cached_ratio']:.3f}  TTFT mean {k['ttft_mean'] * 1e3:.0f} ms"
                        f"  p99 {k['ttft_p99'] * 1e3:.0f} ms  steady p99 {k['ttft_p99_steady'] * 1e3:.0f} ms"
                        f"  failed {k['failed']}")
                log(f"        router CPU {r['router_cpu_us_per_request']:.0f} µs per request")
        figures["conversations"] = {system: conversation_medians(rs) for system, rs in runs.items()}
    if "replay" in phases:
        rows = load_trace()
        figures["ceiling"] = ceiling(rows)
        log(f"replaying {len(rows)} requests over {rows[-1][0] / args.speedup:.0f} s per system; "
            f"cached-token ceiling {figures['ceiling']:.3f}")
        for capacity in args.capacity_blocks:
            figures["replay"][capacity] = {}
            for system in systems:
                fleet = Fleet(capacity, args.prefill_us_per_token, args.prefill_base_ms, args.decode_ms_per_token)
                try:
                    target = Target(fleet.start(system, binaries), fleet.urls)
                    r = asyncio.run(replay(target, rows))
                finally:
                    fleet.stop()
                figures["replay"][capacity][system] = r
                log(f"  capacity {capacity}: {SYSTEMS[system]:28} cached {r['cached_ratio']:.3f}  "
                    f"TTFT mean {r['ttft_mean'] * 1e3:.0f} ms  p99 {r['ttft_p99'] * 1e3:.0f} ms  failed {r['failed']}")
    runs = {"latency": lambda t, pid: latency(t, pid), "latency-ids": lambda t, pid: latency(t, pid, ids=True), "rate": rate,
            "first-byte": first_byte}
    for phase, run in runs.items():
        if phase not in phases:
            continue
        every = {}
        for _ in range(args.repeat):
            for system in systems:
                if phase == "latency-ids" and system in ("cache_aware", "round_robin"):
                    continue  # sglang-router answers 422 to token-id prompts
                fleet = Fleet(1 << 16, 0, 0, 0)
                try:
                    target = Target(fleet.start(system, binaries), fleet.urls)
                    r = asyncio.run(run(target, fleet.router))
                finally:
                    fleet.stop()
                every.setdefault(system, []).append(r)
                log(f"  {phase}: {SYSTEMS[system]:28} {r}")
        for system, rs in every.items():
            figures[phase][system] = {k: statistics.median(r[k] for r in rs) for k in rs[0]} | {"runs": rs}
    print_tables(figures, systems)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


def print_tables(figures, systems):
    print(f"\nEngine doubles: {args.engines}, prefill {args.prefill_base_ms} ms + {args.prefill_us_per_token} µs per uncached "
          f"token; KV events {'every %g ms' % args.event_interval_ms if args.event_interval_ms else 'one batch per request'}; "
          f"trace: first {args.requests} requests at {args.speedup}x.\n")
    for kind in ("chat", "text"):
        rows = {s: dict(r[kind], cpu=r["router_cpu_us_per_request"]) for s, r in figures["conversations"].items()}
        if not rows:
            continue
        print(f"Conversations, {kind} ({args.conversations} conversations x {args.turns} turns, {args.clients} clients, "
              f"{args.conversation_capacity_blocks} blocks per engine):\n")
        print("| system | cached-token ratio | TTFT mean | TTFT p99 | TTFT p99, steady | failed | router CPU per request (both kinds) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for s, r in rows.items():
            cpu = f"{r['cpu']:.0f} µs" if r["cpu"] == r["cpu"] else "–"
            print(f"| {SYSTEMS[s]} | {r['cached_ratio']:.3f} | {r['ttft_mean'] * 1e3:.0f} ms | "
                  f"{r['ttft_p99'] * 1e3:.0f} ms | {r['ttft_p99_steady'] * 1e3:.0f} ms | {r['failed']} | {cpu} |")
        print()
        peer = figures["conversations"].get("cache_aware")
        for s, r in figures["conversations"].items():
            if s in GATEWAYS and peer:
                ratios = [tuple(m[kind][k] / p[kind][k] for k in ("ttft_mean", "ttft_p99", "ttft_p99_steady"))
                          for m, p in zip(r["runs"], peer["runs"])]
                print(f"{SYSTEMS[s]} against {SYSTEMS['cache_aware']}, run by run (TTFT mean / p99 / steady p99): "
                      + ", ".join(" / ".join(f"{x:.2f}x" for x in t) for t in ratios)
                      + "; medians " + " / ".join(f"{statistics.median(t[i] for t in ratios):.2f}x" for i in range(3)) + "\n")
    if "ceiling" in figures:
        print(f"Ceiling (one engine, unbounded cache, every request): cached-token ratio {figures['ceiling']:.3f}.\n")
    for capacity, rows in figures["replay"].items():
        print(f"Replay, {capacity} blocks of 16 tokens per engine:\n")
        print("| system | cached-token ratio | TTFT mean | TTFT p99 | failed |")
        print("|---|---:|---:|---:|---:|")
        for s in systems:
            r = rows[s]
            print(f"| {SYSTEMS[s]} | {r['cached_ratio']:.3f} | {r['ttft_mean'] * 1e3:.0f} ms | "
                  f"{r['ttft_p99'] * 1e3:.0f} ms | {r['failed']} |")
        print()
    lat, ids, rate_ = figures["latency"], figures["latency-ids"], figures["rate"]

    def added(table, s):
        base = table.get("direct")
        if s not in table or not base:
            return "– | –"
        return f"{(table[s]['p50'] - base['p50']) * 1e3:.2f} ms | {(table[s]['p99'] - base['p99']) * 1e3:.2f} ms"

    if lat or ids or rate_:
        runs = f", median of {args.repeat} runs" if args.repeat > 1 else ""
        print(f"Latency at {args.latency_concurrency} clients, rate at {args.rate_concurrency} clients{runs}:\n")
        print("| system | added p50, text | added p99, text | added p50, token ids | added p99, token ids "
              f"| rate, {args.latency_concurrency} clients | router CPU per request, {args.latency_concurrency} clients "
              f"| added p50, {args.rate_concurrency} clients | added p99, {args.rate_concurrency} clients "
              f"| rate, {args.rate_concurrency} clients | router CPU per request, {args.rate_concurrency} clients |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

        def cpu(table, s):
            c = table.get(s, {}).get("router_cpu_us_per_request", float("nan"))
            return f"{c:.0f} µs" if c == c else "–"

        def rate(table, s):
            return f"{table[s]['rate']:.0f} req/s" if s in table else "–"

        for s in systems:
            print(f"| {SYSTEMS[s]} | {added(lat, s)} | {added(ids, s)} | {rate(lat, s)} | {cpu(lat, s)} "
                  f"| {added(rate_, s)} | {rate(rate_, s)} | {cpu(rate_, s)} |")
    fb = figures["first-byte"]
    if fb:
        runs = f", median of {args.repeat} runs" if args.repeat > 1 else ""
        print(f"\nStreamed answers of one token, one at a time, on idle doubles{runs}:\n")
        print("| system | first byte p50 | first byte p99 | end p50 | end p99 |")
        print("|---|---:|---:|---:|---:|")
        for s in systems:
            if s in fb:
                r = fb[s]
                print(f"| {SYSTEMS[s]} | {r['first_p50'] * 1e3:.2f} ms | {r['first_p99'] * 1e3:.2f} ms "
                      f"| {r['last_p50'] * 1e3:.2f} ms | {r['last_p99'] * 1e3:.2f} ms |")


if __name__ == "__main__":
    main()
