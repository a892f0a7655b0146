#!/usr/bin/env python3
"""A vLLM-compatible KV-event publisher for EngineEventSubscriber's tests, on 127.0.0.1 only.

Each endpoint is one data-parallel rank: a PUB socket (frames: topic, 8-byte big-endian sequence,
msgpack payload) and a replay ROUTER answering ["", start_seq] with ["", topic, seq, payload]...
then ["", "", 0xFF*8, ""], as vLLM's ZmqEventPublisher does. It plays a scenario, serves
replays until nothing is asked for a while, and prints what each node should hold as JSON.
The sockets bind ports the kernel picks; the first line printed names them,
{"pub": [ports], "replay": [ports]}, so no other process can hold a port the test chose.

  python3 publisher.py --nodes 0,0,1
  python3 publisher.py ... --flood 20000      (as fast as it can, for throughput)
  python3 publisher.py ... --scenario lost    (a gap the replay buffer no longer reaches back to)
  python3 publisher.py ... --scenario early   (one batch before any subscriber, then nothing)
"""
import argparse, collections, json, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msgspec, zmq
from vllm_events import KVEventBatch, AllBlocksCleared, stored, removed

ap = argparse.ArgumentParser()
ap.add_argument("--nodes", required=True)
ap.add_argument("--flood", type=int, default=0)
ap.add_argument("--settle", type=float, default=2.0)
ap.add_argument("--scenario", choices=["main", "lost", "early"], default="main")
args = ap.parse_args()
nodes = [int(n) for n in args.nodes.split(",")]

ctx = zmq.Context()
pubs, routers = [], []
for _ in nodes:
    s = ctx.socket(zmq.PUB); s.setsockopt(zmq.SNDHWM, 100000); s.bind("tcp://127.0.0.1:*"); pubs.append(s)
    t = ctx.socket(zmq.ROUTER); t.bind("tcp://127.0.0.1:*"); routers.append(t)


def port(sock):
    return int(sock.getsockopt(zmq.LAST_ENDPOINT).decode().rsplit(":", 1)[1])


print(json.dumps({"pub": [port(s) for s in pubs], "replay": [port(t) for t in routers]}), flush=True)
ranks = {}
rank_of = []
for n in nodes:
    rank_of.append(ranks.get(n, 0)); ranks[n] = ranks.get(n, 0) + 1

enc = msgspec.msgpack.Encoder()
seq = [0] * len(pubs)
buffers = [collections.deque(maxlen=10000) for _ in pubs]
holdings = collections.defaultdict(collections.Counter)   # node -> block -> references
TOPIC = b""


def record(node, events):
    for e in events:
        if isinstance(e, AllBlocksCleared):
            holdings[node].clear()
        elif hasattr(e, "token_ids"):
            for h in e.block_hashes: holdings[node][h] += 1
        else:
            for h in e.block_hashes:
                if holdings[node][h] > 0: holdings[node][h] -= 1
                if holdings[node][h] == 0: del holdings[node][h]


def send(i, events, skip=False, raw=None):
    payload = raw if raw is not None else enc.encode(KVEventBatch(ts=time.time(), events=events, data_parallel_rank=rank_of[i]))
    s = seq[i]; seq[i] += 1
    buffers[i].append((s, payload))
    if raw is None: record(nodes[i], events)
    if not skip: pubs[i].send_multipart([TOPIC, s.to_bytes(8, "big"), payload])


def serve_replays(quiet_for=None, until=None):
    """Answers replay requests until none came for `quiet_for` seconds, or until the time
    `until`: a subscriber asks as soon as it connects."""
    poller = zmq.Poller()
    for r in routers: poller.register(r, zmq.POLLIN)
    last = time.time()
    served = 0
    while (time.time() < until) if until is not None else (time.time() - last < quiet_for):
        for sock, _ in poller.poll(50):
            frames = sock.recv_multipart()
            i = routers.index(sock)
            if len(frames) != 3 or len(frames[2]) != 8:
                continue           # malformed request: no reply, as vLLM does
            start = int.from_bytes(frames[2], "big")
            for s, payload in buffers[i]:
                if s >= start: sock.send_multipart([frames[0], b"", TOPIC, s.to_bytes(8, "big"), payload])
            sock.send_multipart([frames[0], b"", b"", b"\xff" * 8, b""])
            served += 1
            last = time.time()
    return served


if args.scenario == "early":
    # published before any subscriber connected: PUB drops it, the replay socket still has it
    send(0, [stored([5, 6])])
    served = serve_replays(until=time.time() + args.settle)
    print(json.dumps({"holdings": {str(n): {str(h): c for h, c in held.items()} for n, held in holdings.items()},
                      "replaysServed": served}))
    sys.exit(0)

# let subscribers connect (PUB/SUB drops what is sent before), answering the replays they ask
# for once connected
served = serve_replays(until=time.time() + args.settle)
malformed = 0
if args.flood:
    t0 = time.time()
    for k in range(args.flood):
        base = k * 4
        send(k % len(pubs), [stored([base + 1, base + 2], parent=None), removed([base + 1])])
    elapsed = time.time() - t0
    time.sleep(1.0)
    print(json.dumps({"batches": args.flood, "events": 2 * args.flood, "sendSeconds": elapsed}))
    sys.exit(0)

if args.scenario == "lost":
    # endpoint 0 keeps its last 2 batches: batch 1 is gone from the buffer when batch 3 reveals
    # the gap, batch 2 is still there
    buffers[0] = collections.deque(maxlen=2)
    send(0, [stored([1, 2])])
    send(0, [stored([10])], skip=True)
    send(0, [stored([20])], skip=True)
    send(0, [stored([30], parent=20)])
    print(json.dumps({"replaysServed": served + serve_replays(quiet_for=2.0)}))
    sys.exit(0)

# node of endpoint 0 and 1 (two ranks of one engine) publish the same stores: duplicates
send(0, [stored([1, 2, 3])])
send(1, [stored([1, 2, 3])])
send(0, [removed([3])])
# endpoint 2: stores, a clear, more stores, one batch deliberately not sent (a gap), a removal
send(2, [stored([10, 11]), stored([12], parent=11)])
send(2, [AllBlocksCleared()])
send(2, [stored([20, 21])])
send(2, [stored([22], parent=21)], skip=True)
send(2, [removed([20])])
# malformed payloads, with proper sequence numbers: counted and skipped by the subscriber
for raw in [b"\xc1 not msgpack", enc.encode([time.time()]),
            enc.encode([time.time(), [{"type": "BlockMoved", "block_hashes": [1]}], 1]),
            enc.encode([time.time(), [{"type": "BlockRemoved", "block_hashes": "oops", "medium": None}], 1])]:
    send(1, [], raw=raw)
    malformed += 1
send(0, [stored([4], parent=2)])
replays = served + serve_replays(quiet_for=2.0)
print(json.dumps({"holdings": {str(n): {str(h): c for h, c in held.items()} for n, held in holdings.items()},
                  "skipped": 1, "malformed": malformed, "replaysServed": replays}))
