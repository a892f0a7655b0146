#!/usr/bin/env python3
"""Makes a real model directory for the benchmarks: Meta Llama 3's tokenizer (128,000 byte-level
BPE tokens and 256 special tokens, from the tiktoken file PyPI's `llama-models` ships) converted
to a Hugging Face `tokenizer.json` with transformers' own converter, and a `tokenizer_config.json`
with Llama 3.1's chat template and special tokens. No model download: both come from PyPI.

Usage (from the package root):  python3 Benchmarks/scripts/make_model.py [--out Benchmarks/data/llama3]

Needs `transformers` and `tokenizers` (pip); fetches the `llama-models` wheel with pip once.
"""
import argparse, base64, glob, json, os, subprocess, sys, tempfile, zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TEMPLATE = os.path.join(ROOT, "Tests", "KVCacheTemplatesTests", "Fixtures", "templates", "llama-3.1-tools.jinja")
PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
           "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
           "<|eot_id|>", "<|python_tag|>", "<|image|>"]
SPECIAL += [f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(SPECIAL))]


def tiktoken_file(cache):
    found = glob.glob(os.path.join(cache, "llama_models-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", cache, "llama-models"], check=True)
        found = glob.glob(os.path.join(cache, "llama_models-*.whl"))
    with zipfile.ZipFile(sorted(found)[-1]) as z:
        return z.read("llama_models/llama3/tokenizer.model")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "Benchmarks", "data", "llama3"))
    ap.add_argument("--cache", default=os.path.join(ROOT, "Benchmarks", "data", "wheels"))
    args = ap.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    from tokenizers import processors
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = {}
    for line in tiktoken_file(args.cache).splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)

    class Converter(TikTokenConverter):
        @staticmethod
        def load_tiktoken_bpe(_):
            return ranks

    tok = Converter(vocab_file="-", pattern=PATTERN, extra_special_tokens=SPECIAL).converted()
    bos = len(ranks) + SPECIAL.index("<|begin_of_text|>")
    # Llama 3 puts its beginning-of-text token before every encoded text, as engines add it.
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(TEMPLATE, encoding="utf-8") as f:
        template = f.read()
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
              "model_max_length": 131072, "chat_template": template}
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
    print(f"{args.out}: {tok.get_vocab_size()} tokens ({len(ranks)} BPE, {len(SPECIAL)} special)")


main()
