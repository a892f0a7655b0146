#!/usr/bin/env python3
"""Runs the benchmark suite and the C/C++ peers in one go and prints same-run ratios.

Usage (from Benchmarks/):  python3 scripts/run.py [--targets Hashing,Eviction,...]

- makes data/zipf.bin with ../../shared/peers/genzipf.py when missing (needs numpy);
- builds and runs the peers (../../shared/peers/lru.cpp with g++ -O3, xxbench.c with gcc -O3),
  and for Eviction runs them again after the Swift benchmarks (both LRU ratios are printed);
- runs `swift package benchmark --target T` for each target (release build);
- for Tokenizers, times Hugging Face's `tokenizers` (PyPI) on the same files and prompt;
- for Templates, times transformers' `apply_chat_template` (PyPI) on the same model directory
  and conversation (makes the Llama 3 directory with make_model.py when missing);
- prints the medians and the ratios the issues ask for.
"""
import argparse, os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)                       # Benchmarks/
PEERS = os.path.normpath(os.path.join(ROOT, "..", "..", "shared", "peers"))
BUILD = os.path.join(ROOT, ".build-peers")
STREAM_OPS = 10_000_000
UNITS = {"ns": 1.0, "us": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9}


def sh(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def ensure_stream():
    path = os.path.join(ROOT, "data", "zipf.bin")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        sh([sys.executable, os.path.join(PEERS, "genzipf.py")], cwd=ROOT)
    return path


def run_peers(stream):
    os.makedirs(BUILD, exist_ok=True)
    lru, xx = os.path.join(BUILD, "lru"), os.path.join(BUILD, "xxbench")
    sh(["g++", "-O3", "-o", lru, os.path.join(PEERS, "lru.cpp")])
    sh(["gcc", "-O3", "-o", xx, os.path.join(PEERS, "xxbench.c"), "-lxxhash"])
    out = {}
    for line in (sh([lru, stream]) + sh([xx])).splitlines():
        m = re.match(r"RESULT (.*?)\s+median\s+([\d.]+) ns/(op|block)", line)
        if m:
            out[m.group(1).strip()] = float(m.group(2))
    return out


def tokenizer_prompt():
    """The prompt of Benchmarks/Tokenizers/Tokenizers.swift, built the same way."""
    words = [w for w in ("the quick brown fox jumps over the lazy dog while serving engines cache blocks of a "
                         "shared prefix; routers find them again by hashing, and 42 requests in 2026 reuse "
                         "what 7 others computed. It's what they're for: don't recompute, reuse!").split(" ") if w]
    state, text = 7, ""
    while len(text.encode()) < 1024:
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        text += words[(state >> 33) % len(words)] + " "
    return text


def run_hf_tokenizers(names):
    """ns per encode of the prompt with Hugging Face's tokenizers, median of 7 runs of 1,000."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        print("(pip install tokenizers to time Hugging Face's tokenizers)", file=sys.stderr)
        return {}
    import statistics, time
    fixtures = os.path.join(ROOT, "..", "Tests", "KVCacheTokenizersTests", "Fixtures")
    text, out = tokenizer_prompt(), {}
    for name in names:
        tok = Tokenizer.from_file(os.path.join(fixtures, f"{name}.tokenizer.json"))
        for _ in range(200):
            tok.encode(text)
        runs = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(1000):
                tok.encode(text)
            runs.append((time.perf_counter() - start) / 1000 * 1e9)
        out[name] = statistics.median(runs)
    return out


def run_transformers_templates():
    """p50 and p99 µs of transformers' apply_chat_template on the Templates benchmark's model
    directory and conversation: rendering only, and rendering with tokenizing."""
    try:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import PreTrainedTokenizerFast
    except ImportError:
        print("(pip install transformers to time apply_chat_template)", file=sys.stderr)
        return {}
    import json, time
    model = os.path.join(ROOT, "data", "llama3")
    if not os.path.exists(os.path.join(model, "tokenizer.json")):
        model = os.path.join(ROOT, "..", "Tests", "KVCacheTemplatesTests", "Fixtures", "model")
    tok = PreTrainedTokenizerFast.from_pretrained(model)
    with open(os.path.join(ROOT, "Benchmarks", "Templates", "conversation.json")) as f:
        messages = json.load(f)["messages"]
    out = {}
    for name, tokenize in (("render", False), ("render + tokenize", True)):
        for _ in range(50):
            tok.apply_chat_template(messages, tokenize=tokenize, add_generation_prompt=True)
        times = []
        for _ in range(1000):
            start = time.perf_counter()
            tok.apply_chat_template(messages, tokenize=tokenize, add_generation_prompt=True)
            times.append((time.perf_counter() - start) * 1e6)
        times.sort()
        out[name] = (times[len(times) // 2], times[int(len(times) * 0.99)])
    return out


def run_swift(target):
    cmd = ["swift", "package", "--disable-sandbox", "benchmark", "--target", target, "--no-progress"]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    run = subprocess.run(cmd, text=True, capture_output=True, cwd=ROOT)
    os.makedirs(os.path.join(ROOT, ".benchmark-output"), exist_ok=True)
    with open(os.path.join(ROOT, ".benchmark-output", target + ".txt"), "w") as f:
        f.write(run.stdout + run.stderr)
    if run.returncode != 0:
        print(f"benchmark target {target} failed (exit {run.returncode}); output in .benchmark-output/{target}.txt", file=sys.stderr)
        return {}
    text = run.stdout
    results, name = {}, None
    for line in text.splitlines():
        if line and not line.startswith(("│", "╒", "╞", "├", "╘", "=")) and not line.startswith(" "):
            name = line.strip()
        m = re.match(r"│ Time \(wall clock\) \((\w+)\)\s*\*?\s*│\s*([\d.]+)\s*│\s*([\d.]+)\s*│\s*([\d.]+)", line)
        if m and name:
            unit = UNITS[m.group(1)]
            results[name] = float(m.group(4)) * unit     # p50 in ns
            cells = [c.strip() for c in line.split("│")[2:] if c.strip()]
            if len(cells) >= 6:
                results[name + " p99"] = float(cells[5]) * unit
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="Hashing,Eviction,Selection,Router,Simulation,Tokenizers,Templates,Gateway")
    args = ap.parse_args()
    targets = args.targets.split(",")
    stream = ensure_stream()
    peers = run_peers(stream)
    print("\n== peers (same run) ==")
    for k, v in peers.items():
        print(f"  {v:9.1f} ns  {k}")
    swift = {}
    for t in targets:
        swift.update(run_swift(t))

    if "Hashing" in targets and "PrefixHasher native, 16K prompt" in swift:
        blocks = 32
        raw = swift["raw XXH3_64bits_withSeed (fastest entry) chained, 16K prompt"] / blocks
        sse = swift["raw XXH3_64bits_withSeed (portable SSE2) chained, 16K prompt"] / blocks
        native = swift["PrefixHasher native, 16K prompt"]
        dynamo = swift["PrefixHasher dynamo, 16K prompt"]
        print("\n== hashing (512-token blocks, 2 KiB) ==")
        print(f"  raw XXH3 fastest entry   {raw:6.1f} ns/block  {2048 / raw:5.1f} GB/s")
        print(f"  raw XXH3 portable SSE2   {sse:6.1f} ns/block")
        print(f"  PrefixHasher native      {native / blocks:6.1f} ns/block  {2048 * blocks / native:5.1f} GB/s"
              f"  ratio {native / blocks / raw:.3f}x raw   16K prompt {native / 1000:.2f} us")
        print(f"  PrefixHasher dynamo      {dynamo / blocks:6.1f} ns/block  ratio {dynamo / blocks / raw:.3f}x raw")
        for k, v in peers.items():
            if "dispatch" in k and "chain" in k:
                print(f"  C peer {k}: {v:.1f} ns/block")

    if "Eviction" in targets and "getOrInsert LRU cap=100000 (10M Zipf ops)" in swift:
        # the peer again, right after the Swift runs: the machine's speed drifts over the
        # minutes between, and both ratios show how much
        after = run_peers(stream)
        print("\n== eviction: get-or-insert on the Zipf stream (ns/op) ==")
        for cap in (100_000, 1_000_000):
            key = f"(d) std::unordered_map+std::list LRU cap={cap}"
            lru = swift[f"getOrInsert LRU cap={cap} (10M Zipf ops)"] / STREAM_OPS
            print(f" LRU cap {cap}: C++ std before {peers[key]:.1f}, after {after[key]:.1f}:"
                  f" LRU {lru / peers[key]:.2f}x / {lru / after[key]:.2f}x")
        for cap in (100_000, 1_000_000):
            std = peers.get(f"(d) std::unordered_map+std::list LRU cap={cap}")
            idx = peers.get(f"(d') index LRU + unordered_map<u64,i32> cap={cap}")
            lru = swift[f"getOrInsert LRU cap={cap} (10M Zipf ops)"] / STREAM_OPS
            print(f" capacity {cap}: C++ std {std:.1f}  C++ index {idx:.1f}")
            for name in ["LRU", "FIFO", "LFU", "SIEVE", "S3FIFO", "ARC", "LengthAware", "LeafLRU", "Belady"]:
                ns = swift[f"getOrInsert {name} cap={cap} (10M Zipf ops)"] / STREAM_OPS
                print(f"  {name:12s} {ns:7.1f} ns/op   {ns / std:5.2f}x C++ std   {ns / lru:5.2f}x LRU")
        d = swift.get("baseline Dictionary<UInt64,Int32> lookup, 1M present (1M ops)")
        t = swift.get("baseline BlockPool<FIFO> lookup (key-bits table), 1M present (1M ops)")
        if d and t:
            print(f"  baselines: Swift Dictionary lookup {d / 1e6:.1f} ns, key-bits table lookup {t / 1e6:.1f} ns")

    if "Tokenizers" in targets:
        families = ["gpt2", "llama3", "sentencepiece"]
        hf = run_hf_tokenizers(families)
        print("\n== tokenizers: encode a 1 KB prompt (p50, µs; Hugging Face's through Python) ==")
        for name in families:
            ns = swift.get(f"encode 1 KB, {name}")
            if ns is None:
                continue
            line = f"  {name:14s} {ns / 1e3:7.1f} µs"
            regex = swift.get(f"encode 1 KB, {name} on Regex")
            if regex:
                line += f"   on Swift Regex {regex / 1e3:7.1f} µs ({regex / ns:4.1f}x slower)"
            if name in hf:
                line += f"   HF tokenizers {hf[name] / 1e3:7.1f} µs ({ns / hf[name]:4.2f}x HF)"
            print(line)

    if "Templates" in targets:
        if not os.path.exists(os.path.join(ROOT, "data", "llama3", "tokenizer.json")):
            sh([sys.executable, os.path.join(HERE, "make_model.py")])
        hf = run_transformers_templates()
        print("\n== chat templates: a 4 KB conversation, Llama 3.1's template (µs, p50 / p99) ==")
        for key, label in (("render", "render"), ("render + tokenize", "render + tokenize"),
                           ("render + tokenize", "render + tokenize, sections cached")):
            prefix = label.split(",")[0] + " 4 KB conversation" + ("," + label.split(",")[1] if "," in label else "")
            swift_key = next((k for k in swift if k.startswith(prefix + ",") and not k.endswith(" p99")
                              and ("cached" in k) == ("cached" in label)), None)
            if swift_key is None:
                continue
            p50, p99 = swift[swift_key] / 1e3, swift.get(swift_key + " p99", float("nan")) / 1e3
            line = f"  {label:34s} KVCacheTemplates {p50:8.1f} / {p99:8.1f}"
            if key in hf:
                line += f"   transformers {hf[key][0]:8.1f} / {hf[key][1]:8.1f}   ({hf[key][0] / p50:5.1f}x faster at p50)"
            print(line)

    if "Gateway" in targets:
        print("\n== one proxied request, in process (p50): what kvcache-gateway adds to the engine alone ==")
        for kind in ("whole", "streamed, 17 chunks"):
            alone, through = swift.get(f"engine alone, {kind}"), swift.get(f"through kvcache-gateway, {kind}")
            if alone and through:
                print(f"  {kind:20s} {alone / 1e3:7.0f} µs alone, {through / 1e3:7.0f} µs through: +{(through - alone) / 1e3:.0f} µs"
                      "   (allocations: .benchmark-output/Gateway.txt)")

    matrix = {k: v for k, v in swift.items() if k.startswith("reference matrix")}
    if matrix:
        print("\n== the reference matrix of conversation.json (p50; the Python reference takes about 15 s) ==")
        for k, v in matrix.items():
            print(f"  {v / 1e9:7.3f} s  {k}")

    if "Selection" in targets:
        print("\n== selection: one decision, 16 nodes, 32-block request (p50, ns) ==")
    for k, v in swift.items():
        if k.endswith(" p99") or k.startswith(("render", "read request", "engine alone", "through kvcache-gateway")):
            continue
        if not k.startswith(("getOrInsert", "baseline", "raw", "PrefixHasher", "reference matrix", "encode 1 KB")):
            print(f"  {v:10.1f} ns  {k}")


if __name__ == "__main__":
    main()
