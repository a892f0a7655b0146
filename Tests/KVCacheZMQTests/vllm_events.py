"""msgspec Structs declared as vLLM v0.33 declares them in vllm/distributed/kv_events.py, so
what they encode is byte for byte what vLLM publishes; plus the older positional shape."""
import hashlib
from typing import Any
import msgspec

ExternalBlockHash = bytes | int


class EventBatch(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    ts: float
    events: list[Any]
    data_parallel_rank: int | None = None


class KVCacheEvent(msgspec.Struct, omit_defaults=True, gc=False, tag=True):
    pass


class BlockStored(KVCacheEvent):
    block_hashes: list[ExternalBlockHash]
    parent_block_hash: ExternalBlockHash | None
    token_ids: list[int]
    block_size: int
    lora_id: int | None
    medium: str | None
    lora_name: str | None
    extra_keys: list[tuple[Any, ...] | None] | None = None
    group_idx: int | None = None
    kv_cache_spec_kind: str | None = None
    kv_cache_spec_sliding_window: int | None = None


class BlockRemoved(KVCacheEvent):
    block_hashes: list[ExternalBlockHash]
    medium: str | None
    group_idx: int | None = None
    remaining_copy_counts: list[int] | None = None


class AllBlocksCleared(KVCacheEvent):
    pass


class KVEventBatch(EventBatch):
    events: list[BlockStored | BlockRemoved | AllBlocksCleared]


def stored(hashes, parent=None, block_size=16, medium="GPU"):
    return BlockStored(block_hashes=list(hashes), parent_block_hash=parent, token_ids=[0] * (block_size * len(hashes)),
                       block_size=block_size, lora_id=None, medium=medium, lora_name=None)


def removed(hashes, medium="GPU"):
    return BlockRemoved(block_hashes=list(hashes), medium=medium)


_hash_encoder = msgspec.msgpack.Encoder()


def block_hash(parent, tokens, extra=None):
    """sha256 over (parent hash, token ids, extra keys), as vLLM's sha256 block hash (32 bytes)."""
    return hashlib.sha256(_hash_encoder.encode([parent, list(tokens), list(extra) if extra else None])).digest()


def low64(digest):
    """The low 64 bits of a 32-byte hash, as vLLM publishes integer block hashes."""
    return int.from_bytes(digest[-8:], "big")
