#!/usr/bin/env python3
"""Writes the tokenizer fixtures: small tokenizers trained with Hugging Face's `tokenizers`
in the shapes of the families engines serve, and the ids that library gives for a set of
hand-picked and random strings. HuggingFaceTokenizerTests checks the Swift tokenizer against
them. Run from the package root: python3 Tests/KVCacheTokenizersTests/make_fixtures.py
(needs `pip install tokenizers`)."""

import json
import os
import random

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Fixtures")

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2 = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")

WORDS = """the quick brown fox jumps over lazy dog serving engines cache blocks prefix tokens
router gateway request prompt completion chat model llama mistral qwen hello world it's
don't we'll they're I've you'd she's can't won't shouldn't café naïve résumé über straße
привет мир 你好 世界 こんにちは 안녕하세요 مرحبا שלום γειά σου 🙂 🚀 👩‍💻 ½ ² Ⅻ ١٢٣""".split()

HANDPICKED = [
    "", " ", "   ", "\n", "\n\n", " \n ", "\t\tindent", "a  b   c", "trailing   ", "  leading",
    "Hello, world!", "I'LL SEE YOU'RE THERE", "don't won't can't", "''s", "x's 's 'S",
    "12345678", "3.14159 and 2,000,000", "version 1.2.3-rc4", "١٢٣٤ Ⅻ ² ½",
    "café naïve", "cafe\u0301 nai\u0308ve", "straße Über", "привет, мир", "你好世界", "こんにちは世界",
    "emoji 🙂🚀 and 👩‍💻 zwj", "tabs\tand\r\nwindows\r\nlines", "nbsp\u00a0here\u3000ideographic",
    "!!!???...", "a+b=c; x->y", "def f(x):\n    return x * 2\n", "  \n\n  word", "end.\n",
    "<|eot_id|>", "hello<|eot_id|>world", "<|begin_of_text|>Hi <|start_header_id|>user",
    "<s> and </s> in text", "<|endoftext|>a<|endoftext|>", "unknown ✓ ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "\u2028line\u2029para\u0085nel", "mixed 中文English123混合", "a\u200bb zero-width",
]


def corpus(rng):
    lines = []
    for _ in range(3000):
        n = rng.randint(3, 18)
        words = [rng.choice(WORDS) for _ in range(n)]
        sep = rng.choice([" ", " ", " ", "  ", "\n", ", ", ". "])
        lines.append(sep.join(words) + rng.choice(["", ".", "!", "?", "\n", " 42", " 2026"]))
    lines += HANDPICKED
    return lines


def random_strings(rng, n=150):
    pool = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3
    pool += list("      \n\n\t\r'.,!?-_()[]{}<>|=+*/\\\"") + list("éüßñçøåЖжЯ中文字日本語한국🙂🚀½²Ⅻ١٢\u00a0\u3000\u0301")
    pool += ["'s", "'t", "'LL", "'re", "<|eot_id|>", "<s>", "\r\n", "  ", "123", "4567"]
    out = []
    for _ in range(n):
        out.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 40))))
    return out


def train(tok, lines, vocab_size, special, limit_alphabet=None, initial_alphabet=None):
    kwargs = dict(vocab_size=vocab_size, special_tokens=special, show_progress=False)
    if limit_alphabet:
        kwargs["limit_alphabet"] = limit_alphabet
    if initial_alphabet:
        kwargs["initial_alphabet"] = initial_alphabet
    tok.train_from_iterator(lines, trainers.BpeTrainer(**kwargs))
    return tok


def gpt2(lines, prefix_space):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix_space)
    tok.decoder = decoders.ByteLevel()
    train(tok, lines, 900, ["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def llama3(lines, pattern, normalizer=None):
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    special = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]
    train(tok, lines, 1000, special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))])
    return tok


def sentencepiece(lines, metaspace):
    fallback = [f"<0x{b:02X}>" for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    if metaspace:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    else:
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    train(tok, lines, 800, ["<unk>", "<s>", "</s>"] + fallback, limit_alphabet=70)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok


def splits(lines):
    """Pre-tokenizers beyond the families: a pattern for the regex fallback, digits, whitespace."""
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Split(Regex(r"[\p{P}\p{S}]"), behavior="isolated"),
        pre_tokenizers.Split("-", behavior="merged_with_next"),
    ])
    train(tok, lines, 700, ["[UNK]", "[CLS]", "[SEP]"], limit_alphabet=80)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    return tok


def byte_identity():
    """Token id = byte value, no merges: the tokenizer of the gateway tests' engine double."""
    alphabet = {}
    for b in range(256):
        alphabet[bytes_to_unicode()[b]] = b
    tok = Tokenizer(models.BPE(vocab=alphabet, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def main():
    rng = random.Random(20261204)
    lines = corpus(rng)
    strings = HANDPICKED + random_strings(rng)
    fixtures = {
        "gpt2": gpt2(lines, prefix_space=False),
        "gpt2-prefix-space": gpt2(lines, prefix_space=True),
        "llama3": llama3(lines, LLAMA3),
        "qwen2": llama3(lines, QWEN2, normalizer=normalizers.NFC()),
        "sentencepiece": sentencepiece(lines, metaspace=False),
        "metaspace": sentencepiece(lines, metaspace=True),
        "splits": splits(lines),
        "bytes": byte_identity(),
    }
    os.makedirs(HERE, exist_ok=True)
    for name, tok in fixtures.items():
        tok.save(os.path.join(HERE, f"{name}.tokenizer.json"))
        cases = [{"text": s, "ids": tok.encode(s).ids, "plain": tok.encode(s, add_special_tokens=False).ids}
                 for s in strings]
        with open(os.path.join(HERE, f"{name}.expected.json"), "w") as f:
            json.dump(cases, f, ensure_ascii=False, separators=(",", ":"))
    # Check the byte tokenizer is what the engine double computes.
    for s in strings:
        assert fixtures["bytes"].encode(s).ids == list(s.encode()), s


if __name__ == "__main__":
    main()
