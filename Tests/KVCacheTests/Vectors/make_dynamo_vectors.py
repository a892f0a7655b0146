#!/usr/bin/env python3
"""Block-hash vectors from NVIDIA Dynamo's own function, for PrefixHasher's dynamo scheme.

Run:  pip install ai-dynamo-runtime && python3 Tests/KVCacheTests/Vectors/make_dynamo_vectors.py > Tests/KVCacheTests/Vectors/dynamo_vectors.json

Each case is `dynamo._core.compute_block_hash_for_seq(tokens, block_size, lora_name=…)`:
Dynamo's local block hashes (XXH3-64 of the block's little-endian u32 tokens, seeded with
1337, moved by the adapter's name when there is one). Tokens are seeded pseudo-random, so the
file is the same on every run.
"""
import json, random
from importlib.metadata import version
from dynamo._core import compute_block_hash_for_seq

rng = random.Random(20261128)
cases = []
for block_size in (1, 16, 64):
    for n_tokens in (0, block_size - 1, block_size, 3 * block_size + 5):
        if n_tokens < 0:
            continue
        tokens = [rng.randrange(0, 2**32) for _ in range(n_tokens)]
        for lora in (None, "", "A", "sql-lora", "adapter/ünïcode"):
            hashes = compute_block_hash_for_seq(tokens, block_size, lora_name=lora)
            cases.append({"blockSize": block_size, "tokens": tokens, "lora": lora, "localHashes": [str(h) for h in hashes]})
print(json.dumps({"dynamo": version("ai-dynamo-runtime"), "cases": cases}, indent=None))
