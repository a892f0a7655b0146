#!/usr/bin/env python3
"""vLLM KV-event payloads for the decoder tests, encoded by msgspec exactly as vLLM encodes them.

Run:  pip install msgspec && python3 Tests/KVCacheZMQTests/Vectors/make_vllm_vectors.py > Tests/KVCacheZMQTests/Vectors/vllm_payloads.json

The Structs (in ../vllm_events.py) declare the same fields, options and order as
vllm/distributed/kv_events.py (v0.33): EventBatch is array_like (so a payload is [ts, events, data_parallel_rank]); events are
tagged maps ("type": "BlockStored" | "BlockRemoved" | "AllBlocksCleared"). Older releases made
the events array_like too (tag first); `legacy` vectors use that shape.
"""
import json, os, sys
from typing import Any
import msgspec

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from vllm_events import EventBatch, KVEventBatch, BlockStored, BlockRemoved, AllBlocksCleared   # as vLLM declares them

# the older, positional shape
class LegacyEvent(msgspec.Struct, array_like=True, omit_defaults=True, gc=False, tag=True):
    pass

class LegacyStored(LegacyEvent, tag="BlockStored"):
    block_hashes: list[int]
    parent_block_hash: int | None
    token_ids: list[int]
    block_size: int
    lora_id: int | None

class LegacyRemoved(LegacyEvent, tag="BlockRemoved"):
    block_hashes: list[int]

class LegacyCleared(LegacyEvent, tag="AllBlocksCleared"):
    pass

class LegacyBatch(EventBatch):
    events: list[LegacyStored | LegacyRemoved | LegacyCleared]

enc = msgspec.msgpack.Encoder()
big = 2**64 - 5
b32 = bytes(range(32))
cases = []

def add(name, payload, expected):
    cases.append({"name": name, "hex": payload.hex(), "expected": expected})

add("stored-removed-cleared", enc.encode(KVEventBatch(ts=1.5, events=[
    BlockStored(block_hashes=[1, 2, big], parent_block_hash=None, token_ids=list(range(48)), block_size=16,
                lora_id=None, medium="GPU", lora_name=None, extra_keys=[None, ("img", 3), None], group_idx=0),
    BlockStored(block_hashes=[7], parent_block_hash=big, token_ids=list(range(16)), block_size=16,
                lora_id=3, medium="CPU", lora_name="adapter", kv_cache_spec_kind="full_attention"),
    BlockRemoved(block_hashes=[2], medium="GPU", group_idx=0),
    BlockRemoved(block_hashes=[7], medium="CPU"),
    AllBlocksCleared(),
], data_parallel_rank=1)), {
    "ts": 1.5, "rank": 1, "events": [
        {"type": "stored", "blocks": ["1", "2", str(big)], "parent": None, "tokens": 48, "blockSize": 16, "tier": "device"},
        {"type": "stored", "blocks": ["7"], "parent": str(big), "tokens": 16, "blockSize": 16, "tier": "host"},
        {"type": "removed", "blocks": ["2"], "tier": "device"},
        {"type": "removed", "blocks": ["7"], "tier": "host"},
        {"type": "cleared"},
    ]})

add("bytes-hashes-no-rank", enc.encode(KVEventBatch(ts=2.0, events=[
    BlockStored(block_hashes=[b32], parent_block_hash=None, token_ids=[1, 2], block_size=2,
                lora_id=None, medium=None, lora_name=None),
])), {"ts": 2.0, "rank": None, "events": [
    {"type": "stored", "blocks": ["bytes:" + b32.hex()], "parent": None, "tokens": 2, "blockSize": 2, "tier": "device"}]})

add("legacy-array-events", enc.encode(LegacyBatch(ts=3.0, events=[
    LegacyStored(block_hashes=[10, 11], parent_block_hash=9, token_ids=[0] * 32, block_size=16, lora_id=None),
    LegacyRemoved(block_hashes=[10]),
    LegacyCleared(),
], data_parallel_rank=0)), {"ts": 3.0, "rank": 0, "events": [
    {"type": "stored", "blocks": ["10", "11"], "parent": "9", "tokens": 32, "blockSize": 16, "tier": "device"},
    {"type": "removed", "blocks": ["10"], "tier": "device"},
    {"type": "cleared"}]})

# one engine step as the gateway's load makes it: a 62-block prompt stored with its tokens (ids
# up to a 152k vocabulary, so one to five bytes each), an older prompt's 62 blocks evicted
import random
rng = random.Random(62)
stored = [rng.getrandbits(64) for _ in range(62)]
evicted = [rng.getrandbits(64) for _ in range(62)]
parent = rng.getrandbits(64)
tokens = [rng.randrange(152_064) for _ in range(992)]
add("engine-step", enc.encode(KVEventBatch(ts=1765000000.25, events=[
    BlockStored(block_hashes=stored, parent_block_hash=parent, token_ids=tokens, block_size=16,
                lora_id=None, medium="GPU", lora_name=None),
    BlockRemoved(block_hashes=evicted, medium="GPU"),
], data_parallel_rank=0)), {"ts": 1765000000.25, "rank": 0, "events": [
    {"type": "stored", "blocks": [str(h) for h in stored], "parent": str(parent), "tokens": 992, "blockSize": 16, "tier": "device"},
    {"type": "removed", "blocks": [str(h) for h in evicted], "tier": "device"}]})

# malformed payloads: each must be rejected with the reason named
bad = []
bad.append({"name": "not-msgpack", "hex": b"\xc1garbage".hex(), "reason": "not msgpack"})
bad.append({"name": "truncated", "hex": enc.encode(KVEventBatch(ts=1.0, events=[AllBlocksCleared()]))[:-1].hex(), "reason": "not msgpack"})
# msgspec omits a trailing None rank (omit_defaults), so 2 elements are valid; 1 or 4 are not
bad.append({"name": "wrong-array-length", "hex": enc.encode([1.0]).hex(), "reason": "3 elements"})
bad.append({"name": "too-long", "hex": enc.encode([1.0, [], 0, 5]).hex(), "reason": "3 elements"})
bad.append({"name": "not-an-array", "hex": enc.encode({"ts": 1.0}).hex(), "reason": "array"})
bad.append({"name": "unknown-tag", "hex": enc.encode([1.0, [{"type": "BlockMoved", "block_hashes": [1]}], 0]).hex(), "reason": "unknown event type 'BlockMoved'"})
bad.append({"name": "wrong-field-type", "hex": enc.encode([1.0, [{"type": "BlockRemoved", "block_hashes": "oops", "medium": None}], 0]).hex(), "reason": "block_hashes"})
bad.append({"name": "wrong-hash-type", "hex": enc.encode([1.0, [{"type": "BlockRemoved", "block_hashes": [1.5], "medium": None}], 0]).hex(), "reason": "block_hashes"})
bad.append({"name": "missing-field", "hex": enc.encode([1.0, [{"type": "BlockStored", "parent_block_hash": None}], 0]).hex(), "reason": "block_hashes"})
json.dump({"generator": "msgspec " + msgspec.__version__, "cases": cases, "malformed": bad}, sys.stdout, indent=1)
print()
