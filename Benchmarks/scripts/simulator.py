#!/usr/bin/env python3
"""kvcache-sim as users run it, in one run: whole processes over a reference-style matrix for
this checkout and for an earlier commit, and one configuration's block-access rate against
libCacheSim's Python binding on the same block stream.

Usage (from the package root):
    python3 Benchmarks/scripts/simulator.py --before REV [--repeat 3]

Needs PyPI's `libcachesim` for part (b). The earlier commit is exported with `git archive` into
.build-before/src and built there in release.

(a) Matrix, one kvcache-sim process per configuration, best total of --repeat rounds:
    4 eviction policies x 5 capacities on one pool (`sweep --eviction E --capacity C`), and
    5 selectors x 8/16 nodes x 1,000/5,000 blocks (`replay --nodes N --capacity C --selector S`).
(b) One configuration (LRU, 5,000 blocks, one pool): block accesses per second of a whole
    `kvcache-sim sweep` process (reading the JSONL trace included), and of libCacheSim's
    `process_trace` on the same stream as a plain-text trace (reading included, Python's
    start-up not). Both hit ratios are printed to show they replay the same thing.
"""
import argparse, json, os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TRACE = os.path.normpath(os.path.join(ROOT, "..", "shared", "traces", "conversation_trace.jsonl"))

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--before", required=True, help="the earlier commit to build and time")
ap.add_argument("--trace", default=TRACE)
ap.add_argument("--repeat", type=int, default=3)
args = ap.parse_args()
if args.repeat < 1:
    sys.exit(f"simulator.py: --repeat must be at least 1, not {args.repeat}")
if not os.path.isfile(args.trace):
    sys.exit(f"simulator.py: --trace {args.trace}: no such file")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def build(package):
    log(f"+ swift build -c release --product kvcache-sim ({package})")
    subprocess.run(["swift", "build", "-c", "release", "--product", "kvcache-sim", "--package-path", package],
                   check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path", "--package-path", package],
                         check=True, capture_output=True, text=True).stdout.strip()
    return os.path.join(out, "kvcache-sim")


def export(rev):
    dest = os.path.join(ROOT, ".build-before", "src")
    subprocess.run(["rm", "-rf", dest], check=True)
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return dest


MATRIX = [["sweep", "--eviction", e, "--capacity", str(c)]
          for e in ("lru", "fifo", "lfu", "arc") for c in (1000, 5000, 10000, 20000, 50000)]
MATRIX += [["replay", "--nodes", str(n), "--capacity", str(c), "--selector", s]
           for s in ("round-robin", "least-loaded", "cache-aware", "ttft-min", "kv-cost")
           for n in (8, 16) for c in (1000, 5000)]


def timed(binary, command):
    start = time.perf_counter()
    r = subprocess.run([binary, command[0], "--trace", args.trace, *command[1:]], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"simulator.py: {binary} {' '.join(command)} failed: {r.stderr.strip()}")
    return elapsed, r.stdout


def matrix_seconds(binary):
    return sum(timed(binary, c)[0] for c in MATRIX)


def main():
    now = build(ROOT)
    before = build(export(args.before))
    totals = {"this checkout": [], f"before ({args.before})": []}
    for _ in range(args.repeat):  # alternate, so drift on the machine hits both alike
        totals["this checkout"].append(matrix_seconds(now))
        totals[f"before ({args.before})"].append(matrix_seconds(before))
    print(f"(a) {len(MATRIX)} kvcache-sim processes over the matrix, best of {args.repeat}:\n")
    print("| build | total | per process |")
    print("|---|---:|---:|")
    for name, t in totals.items():
        print(f"| {name} | {min(t):.2f} s | {min(t) / len(MATRIX) * 1e3:.0f} ms |")
    ratio = min(totals[f"before ({args.before})"]) / min(totals["this checkout"])
    print(f"\nspeed-up: {ratio:.2f}x\n")

    try:
        import libcachesim as lcs
    except ImportError:
        sys.exit("simulator.py: part (b) needs libcachesim (pip install libcachesim)")
    blocks = []
    with open(args.trace) as f:
        for line in f:
            blocks.extend(json.loads(line)["hash_ids"])
    ours, hit = [], None
    for _ in range(args.repeat):
        t, out = timed(now, ["sweep", "--eviction", "lru", "--capacity", "5000", "--format", "json"])
        ours.append(t)
        hit = json.loads(out)[0]["lru"]
    theirs, their_hit = [], None
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(map(str, blocks)) + "\n")
        path = f.name
    try:
        for _ in range(args.repeat):
            reader = lcs.TraceReader(trace=path, trace_type=lcs.TraceType.PLAIN_TXT_TRACE)
            cache = lcs.LRU(cache_size=5000)
            start = time.perf_counter()
            miss, _ = cache.process_trace(reader)
            theirs.append(time.perf_counter() - start)
            their_hit = 1 - miss
    finally:
        os.unlink(path)
    print(f"(b) LRU, 5,000 blocks, one pool, {len(blocks):,} block accesses, best of {args.repeat}:\n")
    print("| simulator | hit ratio | seconds | accesses per second |")
    print("|---|---:|---:|---:|")
    print(f"| kvcache-sim sweep (whole process) | {hit:.4f} | {min(ours):.3f} | {len(blocks) / min(ours):,.0f} |")
    print(f"| libCacheSim process_trace | {their_hit:.4f} | {min(theirs):.3f} | {len(blocks) / min(theirs):,.0f} |")
    print(f"\nratio: {min(theirs) / min(ours):.2f}x libCacheSim's rate")


if __name__ == "__main__":
    main()
