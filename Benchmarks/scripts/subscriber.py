#!/usr/bin/env python3
"""Events per second through `kvcache-listen` (EngineEventSubscriber feeding a router),
for this build and, optionally, another build of the package in the same run.

  cd Benchmarks && python3 scripts/subscriber.py [--baseline /path/to/other/checkout] [--runs 3]

Each run starts the listener on a loopback port, then `KVEventFlood` (a Swift vLLM-format
publisher: one BlockStored of 2 blocks with 32 tokens and one BlockRemoved per batch) sending
as fast as it can. The figure is the events the listener applied per second over the seconds in
which events arrived (its live lines, the partial first and last seconds left out; at least
three such seconds, or the run is refused). The publisher outruns any subscriber, so ZeroMQ's
high-water marks drop the tail of the flood; the figure counts the events applied. Both
builds are release builds of the same commands.
"""
import argparse, os, re, subprocess, statistics, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--baseline", help="another checkout of the package, built and measured the same way")
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--batches", type=int, default=2_000_000,
                help="batches the publisher sends; enough that the listener is busy for several whole seconds")
args = ap.parse_args()
here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def listener(root):
    """The listener's command line in `root`: `kvcache-listen`, or `kvcache-sim listen` in
    checkouts from before it was a program of its own."""
    if os.path.isdir(os.path.join(root, "Sources", "kvcache-listen")):
        return "kvcache-listen", []
    return "kvcache-sim", ["listen"]


def build(root):
    for product in (listener(root)[0], "KVEventFlood"):
        subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=root, check=True,
                       stdout=subprocess.DEVNULL)
    return root, os.path.join(root, ".build", "release")


def measure(built, port):
    root, bin_dir = built
    program, subcommand = listener(root)
    listen = subprocess.Popen([os.path.join(bin_dir, program), *subcommand, "--endpoint", f"tcp://127.0.0.1:{port}",
                               "--duration", "12"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(0.5)
    subprocess.run([os.path.join(bin_dir, "KVEventFlood"), f"tcp://127.0.0.1:{port}", str(args.batches)],
                   stdout=subprocess.DEVNULL, check=True)
    out, _ = listen.communicate()
    rates = [float(m.group(1)) for m in re.finditer(r"s\s+(\d+) events/s", out)]
    active = [r for r in rates if r > 0]
    if len(active) < 3:
        sys.exit(f"subscriber.py: the listener was busy for {len(active)} s only, too short to measure; "
                 "give more --batches")
    return statistics.mean(active[1:-1])


builds = [("this build", build(here))]
if args.baseline:
    builds.append(("baseline", build(args.baseline)))
results = {name: [] for name, _ in builds}
port = 47_300
for run in range(args.runs):
    for name, bin_dir in builds:               # alternate, so both see the same machine
        port += 1
        results[name].append(measure(bin_dir, port))
for name, rates in results.items():
    print(f"{name:>10}: " + " / ".join(f"{r / 1e3:.0f} K" for r in rates) + f" events/s (median {statistics.median(rates) / 1e3:.0f} K)")
if args.baseline:
    a, b = statistics.median(results["this build"]), statistics.median(results["baseline"])
    print(f"ratio this/baseline: {a / b:.2f}")
