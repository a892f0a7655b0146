#!/usr/bin/env python3
"""A vLLM-shaped engine's KV-event stream for the routing tests, on 127.0.0.1 only.

Each endpoint is one engine: a PUB socket (frames: topic, 8-byte big-endian sequence, msgpack
payload encoded by msgspec with vLLM's Structs) and a replay ROUTER, as vLLM's publisher has.
Block hashes are computed the way vLLM computes them, never the router's way: sha256 over the
parent's hash, the block's token ids and its extra keys; published as the low 64 bits
(an integer) or as the 32 raw bytes (`--binary` endpoints).

Commands arrive on stdin, one JSON object a line; after each the engine prints one JSON line:
  {"endpoint": 0, "store": [token ids], "lora": "A" | null}   stores every full block not held
  {"endpoint": 0, "remove": [token ids], "block": k}            removes block k of that prompt
  {"endpoint": 0, "clear": true}                                AllBlocksCleared
  {"quit": true}
It answers replay requests all along, so a subscriber that joins late catches up.

The sockets bind ports the kernel picks; the first line printed, {"ready": true, "pub": [ports],
"replay": [ports]}, names them.

  python3 engine.py --block-sizes 16,16 --binary 1
"""
import argparse, collections, json, os, select, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msgspec, zmq
from vllm_events import KVEventBatch, BlockStored, BlockRemoved, AllBlocksCleared, block_hash, low64

ap = argparse.ArgumentParser()
ap.add_argument("--block-sizes", required=True)
ap.add_argument("--binary", default="", help="comma-separated endpoint indices that publish 32-byte hashes")
args = ap.parse_args()
block_sizes = [int(b) for b in args.block_sizes.split(",")]
binary = {int(i) for i in args.binary.split(",") if i}

ctx = zmq.Context()
pubs, routers = [], []
for _ in block_sizes:
    s = ctx.socket(zmq.PUB); s.bind("tcp://127.0.0.1:*"); pubs.append(s)
    t = ctx.socket(zmq.ROUTER); t.bind("tcp://127.0.0.1:*"); routers.append(t)
enc = msgspec.msgpack.Encoder()
seq = [0] * len(pubs)
buffers = [collections.deque(maxlen=10000) for _ in pubs]
held = [dict() for _ in pubs]          # engine hash -> True


def published(i, digest):
    return digest if i in binary else low64(digest)


def chain(i, tokens, lora):
    size = block_sizes[i]
    out, parent = [], None
    for b in range(len(tokens) // size):
        extra = (lora,) if lora else None
        parent = block_hash(parent, tokens[b * size:(b + 1) * size], extra)
        out.append(parent)
    return out


def publish(i, events):
    payload = enc.encode(KVEventBatch(ts=time.time(), events=events, data_parallel_rank=0))
    s = seq[i]; seq[i] += 1
    buffers[i].append((s, payload))
    pubs[i].send_multipart([b"", s.to_bytes(8, "big"), payload])
    return s


def serve_replays(timeout_ms):
    poller = zmq.Poller()
    for r in routers: poller.register(r, zmq.POLLIN)
    for sock, _ in poller.poll(timeout_ms):
        frames = sock.recv_multipart()
        i = routers.index(sock)
        if len(frames) != 3 or len(frames[2]) != 8:
            continue
        start = int.from_bytes(frames[2], "big")
        for s, payload in buffers[i]:
            if s >= start: sock.send_multipart([frames[0], b"", b"", s.to_bytes(8, "big"), payload])
        sock.send_multipart([frames[0], b"", b"", b"\xff" * 8, b""])


def run(cmd):
    i = cmd["endpoint"]
    size = block_sizes[i]
    if "store" in cmd:
        tokens, lora = cmd["store"], cmd.get("lora")
        hashes = chain(i, tokens, lora)
        first = next((k for k, h in enumerate(hashes) if h not in held[i]), None)
        if first is None:
            return {"published": None, "blocks": 0}
        new = hashes[first:]
        for h in new: held[i][h] = True
        ev = BlockStored(block_hashes=[published(i, h) for h in new],
                         parent_block_hash=published(i, hashes[first - 1]) if first > 0 else None,
                         token_ids=tokens[first * size:len(hashes) * size], block_size=size, lora_id=1 if lora else None,
                         medium="GPU", lora_name=lora, extra_keys=[(lora,) for _ in new] if lora else None)
        return {"published": publish(i, [ev]), "blocks": len(new)}
    if "remove" in cmd:
        h = chain(i, cmd["remove"], cmd.get("lora"))[cmd["block"]]
        held[i].pop(h, None)
        return {"published": publish(i, [BlockRemoved(block_hashes=[published(i, h)], medium="GPU")])}
    if cmd.get("clear"):
        held[i].clear()
        return {"published": publish(i, [AllBlocksCleared()])}
    raise ValueError(f"unknown command {cmd}")


def port(sock):
    return int(sock.getsockopt(zmq.LAST_ENDPOINT).decode().rsplit(":", 1)[1])


print(json.dumps({"ready": True, "pub": [port(s) for s in pubs], "replay": [port(t) for t in routers]}), flush=True)
while True:
    serve_replays(0)
    ready, _, _ = select.select([sys.stdin], [], [], 0.02)
    if not ready:
        continue
    line = sys.stdin.readline()
    if not line:
        break
    cmd = json.loads(line)
    if cmd.get("quit"):
        break
    print(json.dumps(run(cmd)), flush=True)
# keep answering replays a moment so a subscriber that is catching up can finish
deadline = time.time() + 0.5
while time.time() < deadline:
    serve_replays(50)
