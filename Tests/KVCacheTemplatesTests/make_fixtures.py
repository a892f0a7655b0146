#!/usr/bin/env python3
"""Writes the chat-template fixtures: what Hugging Face's `transformers` (`apply_chat_template`)
and `jinja2` (with the environment transformers builds) give, for KVCacheTemplatesTests to hold
the Swift renderer to.

  Fixtures/templates/*.jinja   real models' chat templates (kept as they are published)
  Fixtures/model/              a model directory: a small byte-level BPE `tokenizer.json` trained
                               here with the templates' control tokens, and `tokenizer_config.json`
                               with the Llama 3.1 template and the special tokens
  Fixtures/chat.json           template x conversation -> rendered text and token ids, or the
                               error transformers raises
  Fixtures/jinja.json          template-language cases -> output, or the error jinja2 raises

Run from the package root: python3 Tests/KVCacheTemplatesTests/make_fixtures.py
(needs `pip install transformers tokenizers jinja2`)."""

import datetime as _dt
import json
import os
import random

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast
import transformers.utils.chat_template_utils as ctu

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Fixtures")
NOW = _dt.datetime(2026, 3, 14, 15, 9, 26)


class _FixedClock(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW


# strftime_now reads the clock: the fixtures use one fixed instant, which the tests pass too.
ctu.datetime = _FixedClock

LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

CONTROL = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>",
           "<s>", "</s>", "<bos>", "<start_of_turn>", "<end_of_turn>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",
           "<|endoftext|>", "<|start_of_role|>", "<|end_of_role|>", "<|end_of_text|>", "<|tool_call|>", "<|eos|>"]

# Per template: the special tokens its model's tokenizer_config gives.
SPECIALS = {
    "llama-3-instruct": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama-3.1-tools": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama-2-chat": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "mistral-instruct": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "gemma-it": {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"},
    "qwen2.5-instruct": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "granite-3.0-instruct": {"bos_token": "<|end_of_text|>", "eos_token": "<|end_of_text|>"},
}
DEFAULT_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>"}

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
                                                          "unit": {"type": "string", "enum": ["c", "f"]}},
                          "required": ["city"]}}}

CONVERSATIONS = {
    "single": {"messages": [{"role": "user", "content": "Hello!"}]},
    "multi-turn": {"messages": [
        {"role": "system", "content": "You are a careful assistant."},
        {"role": "user", "content": "What is a KV cache?"},
        {"role": "assistant", "content": "It stores attention keys and values."},
        {"role": "user", "content": "Why does prefix reuse help?"}]},
    "no-system": {"messages": [
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": "Second question"}]},
    "unicode": {"messages": [
        {"role": "user", "content": "  Grüße aus Köln 🚀 — 你好，世界！\n\n  naïve café  "},
        {"role": "assistant", "content": "こんにちは 👩‍💻\tok"},
        {"role": "user", "content": "Ünïcödé\r\nlines\u2028and \"quotes\" 'too'"}]},
    "no-generation-prompt": {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}],
                             "add_generation_prompt": False},
    "not-alternating": {"messages": [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]},
    "system-only": {"messages": [{"role": "system", "content": "Only a system prompt."}]},
    "tools": {"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [WEATHER]},
    "tool-round-trip": {"messages": [
        {"role": "system", "content": "Use tools when needed."},
        {"role": "user", "content": "Weather in Paris, in c?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}}]},
        {"role": "tool", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}", "tool_call_id": "call_1"}], "tools": [WEATHER]},
    "continue-final": {"messages": [{"role": "user", "content": "Count to three."},
                                    {"role": "assistant", "content": "One, two,"}],
                       "continue_final_message": True, "add_generation_prompt": False},
    "template-kwargs": {"messages": [{"role": "user", "content": "Date?"}], "chat_template_kwargs": {"date_string": "01 Jan 2025"}},
    "empty-content": {"messages": [{"role": "user", "content": ""}]},
    "reasoning": {"messages": [
        {"role": "user", "content": "Weather in Paris?", "name": "ann"},
        {"role": "assistant", "content": "", "reasoning_content": "A tool knows.", "tool_calls": [
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "content": "sunny", "tool_call_id": "call_2"},
        {"role": "assistant", "content": "Sunny.", "reasoning": "Say it briefly."},
        {"role": "assistant", "content": "Anything else?", "reasoning": None, "reasoning_content": None},
        {"role": "user", "content": "No."}], "tools": [WEATHER]},
}

# Template-language cases: (template, context). Each is rendered by jinja2 as transformers sets it up.
JINJA = [
    ("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1.5 + 1 }}", {}),
    ("{{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' * 3 }} {{ [1, 2] + [3] }} {{ 10 / 4 }} {{ 1e16 }} {{ 0.1 + 0.2 }} {{ 1.0 }} {{ 1e-5 }}", {}),
    ("{{ x }}|{{ x.y is defined }}|{{ y is defined }}|{{ none }}|{{ [none, true, 'q\\'s'] }}", {"x": {"y": 1, "z": [1.5, "s"]}}),
    ("{{ d }} {{ d | tojson }} {{ d | tojson(indent=2) }} {{ d.items() | list }}", {"d": {"b": [1, 2, {"c": None}], "a": "é\n\"", "n": 1.25}}),
    ("{{ s | trim }}|{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.split() }}|{{ s.upper() }}|{{ s | length }}|{{ s | title }}|{{ s | capitalize }}",
     {"s": "  héllo wörld\u3000"}),
    ("{{ s.split(',') }} {{ s.split(',', 1) }} {{ s.rsplit(',', 1) }} {{ s.startswith('a') }} {{ s.endswith(('x', 'c')) }} {{ s.replace(',', ';') }} {{ s.find('b') }} {{ s.count(',') }}",
     {"s": "a,b,c"}),
    ("{{ l[0] }} {{ l[-1] }} {{ l[1:] }} {{ l[::-1] }} {{ l[:2] }} {{ l | first }} {{ l | last }} {{ l | length }} {{ l | join('-') }} {{ l | reverse | list }} {{ l | sort }} {{ l | sum }} {{ l | max }} {{ l | min }}",
     {"l": [3, 1, 2]}),
    ("{{ 'abc'[1] }} {{ 'abcdef'[1:4] }} {{ 'abc'[::-1] }} {{ 'x' in 'xyz' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'q' not in 'abc' }}", {}),
    ("{% for m in ms %}{{ loop.index }}/{{ loop.length }}:{{ m }}{% if loop.first %}(first){% endif %}{% if loop.last %}(last){% endif %}{{ loop.revindex0 }} {% endfor %}", {"ms": ["a", "b", "c"]}),
    ("{% for m in ms if m != 'b' %}{{ m }}{{ loop.index0 }}{% else %}empty{% endfor %}|{% for x in [] %}x{% else %}none{% endfor %}", {"ms": ["a", "b", "c"]}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}[{{ x }}]{% endfor %}{{ x }}", {}),
    ("{% set ns = namespace(total=0, seen=false) %}{% for i in range(5) %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}{{ ns.seen }}", {}),
    ("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("{% if a %}A{% elif b %}B{% else %}C{% endif %}{{ 'y' if a else 'n' }}{{ 'z' if b }}", {"a": 0, "b": [1]}),
    ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', punct='?') }}", {}),
    ("{% set block %}inner {{ 1 + 1 }}{% endset %}[{{ block | upper }}]", {}),
    ("  {% if true %}\n    yes\n  {% endif %}\nafter\n{# comment #}\nend", {}),
    ("a  {%- if true -%}  b  {%- endif -%}  c {{- ' d ' -}} e", {}),
    ("{{ items | selectattr('ok') | map(attribute='n') | list }} {{ items | rejectattr('ok') | map(attribute='n') | join(',') }} {{ items | map(attribute='n') | select('odd') | list }}",
     {"items": [{"n": 1, "ok": True}, {"n": 2, "ok": False}, {"n": 3, "ok": True}]}),
    ("{{ x is none }} {{ x is not none }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'a' is string }} {{ 1 is number }} {{ {} is mapping }} {{ [] is iterable }} {{ y is undefined }}",
     {"x": None}),
    ("{{ raise_exception('bad ' ~ n) }}", {"n": 3}),
    ("{{ x.y.z }}", {}),
    ("{{ 1 + 'a' }}", {}),
    ("{{ strftime_now('%Y-%m-%d %H:%M %A %B %d %b') }}", {}),
    ("{{ v | default('dflt') }} {{ e | default('dflt', true) }} {{ v | d('x') }} {{ '%s-%s' | format(1, 'b') }} {{ 3.7 | int }} {{ '42' | int }} {{ 2 | float }} {{ -3 | abs }} {{ 2.567 | round(2) }}",
     {"e": ""}),
    ("{{ t | tojson }} {{ t | tojson(indent=4) }} {{ 'x' | tojson }} {{ [] | tojson }} {{ {} | tojson }} {{ 3 | tojson }} {{ 2.5 | tojson }} {{ none | tojson }}",
     {"t": {"name": "f", "args": {"q": "süß 🚀", "n": [1, 2.0, True, None]}}}),
    ("{{ d.get('a') }} {{ d.get('zz', 'dflt') }} {{ d.keys() | list }} {{ d.values() | list }} {{ d['a'] }} {{ d.missing }}|", {"d": {"a": 1, "b": 2}}),
    ("{% raw %}{{ not rendered }}{% endraw %} {{ '{{' }}", {}),
    ("{{ 'line1\\nline2' | indent(2) }}|{{ 'a b  c' | wordcount }}|{{ 'x' | center(5) }}|", {}),
    ("{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set t = (1, 2) %}{{ t | length }}", {}),
    ("{{ messages | length }}{% for m in messages %}{{ m['role'] | upper }}{% endfor %}{{ messages[0].content }}", {"messages": [{"role": "user", "content": "c"}]}),
    ("{% if x is defined and x | length > 0 %}long{% else %}short{% endif %}", {"x": "abc"}),
    ("{{ (messages | selectattr('role', 'equalto', 'user') | list | last).content }}", {"messages": [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "u2"}]}),
    ("{% for i in range(2, 10, 3) %}{{ i }},{% endfor %}{% for c in 'ab' %}{{ c }}{% endfor %}", {}),
    ("{{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ [1, 1, 2] | unique | list }} {{ 'abc' | list }}", {}),
    ("{{ 'Hello {}! {name}'.format('you', name='me') }} {{ 'a-b'.split('-') | join('+') }}", {}),
]


def train_tokenizer():
    rng = random.Random(7)
    words = """the quick brown fox jumps over lazy dog user assistant system tool weather city paris function call
    name parameters arguments answer question helpful careful prefix cache attention keys values hello world count
    one two three first second date today knowledge cutting environment ipython respond format json grüße köln
    naïve café 你好 世界 こんにちは""".split()
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) for _ in range(3000)]
    lines += [json.dumps(WEATHER), json.dumps(WEATHER, indent=4)]
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=1200, special_tokens=CONTROL, show_progress=False,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def vllm_messages(conversation):
    """The messages as vLLM's chat parser hands them to the template (string contents here):
    an assistant's tool-call arguments given as JSON text parsed, its reasoning under both of
    vLLM's names, a tool's call id and any message's name kept."""
    out = []
    for m in conversation["messages"]:
        msg = {"role": m["role"], "content": m.get("content") or ""}
        if m["role"] == "assistant" and m.get("tool_calls") is not None:
            calls = []
            for call in m["tool_calls"]:
                function = dict(call["function"])
                if isinstance(function.get("arguments"), str):
                    function["arguments"] = json.loads(function["arguments"])
                calls.append({**call, "function": function})
            msg["tool_calls"] = calls
        reasoning = next((m[k] for k in ("reasoning", "reasoning_content") if m.get(k) is not None), None)
        if m["role"] == "assistant" and reasoning is not None:
            msg["reasoning"] = msg["reasoning_content"] = reasoning
        if m["role"] == "tool" and "tool_call_id" in m:
            msg["tool_call_id"] = m["tool_call_id"]
        if isinstance(m.get("name"), str):
            msg["name"] = m["name"]
        out.append(msg)
    return out


def main():
    tok = train_tokenizer()
    os.makedirs(os.path.join(HERE, "model"), exist_ok=True)
    tok.save(os.path.join(HERE, "model", "tokenizer.json"))
    templates = {}
    for name in sorted(n for n in os.listdir(os.path.join(HERE, "templates")) if n.endswith(".jinja")):
        with open(os.path.join(HERE, "templates", name), encoding="utf-8") as f:
            templates[name[:-len(".jinja")]] = f.read()
    config = dict(SPECIALS["llama-3.1-tools"])
    config.update({"chat_template": templates["llama-3.1-tools"], "model_max_length": 131072,
                   "tokenizer_class": "PreTrainedTokenizerFast"})
    with open(os.path.join(HERE, "model", "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)

    cases = []
    for name, source in templates.items():
        specials = SPECIALS.get(name, DEFAULT_SPECIALS)
        hf = PreTrainedTokenizerFast(tokenizer_object=tok, **specials)
        for cname, conversation in CONVERSATIONS.items():
            kwargs = dict(conversation.get("chat_template_kwargs", {}))
            case = {"template": name, "conversation": cname, "specials": specials}
            try:
                text = hf.apply_chat_template(
                    vllm_messages(conversation), tools=conversation.get("tools"), chat_template=source, tokenize=False,
                    add_generation_prompt=conversation.get("add_generation_prompt", True),
                    continue_final_message=conversation.get("continue_final_message", False), **kwargs)
                case["text"] = text
                case["ids"] = hf(text, add_special_tokens=False)["input_ids"]
            except Exception as e:  # the request is refused: the gateway must answer 400
                case["error"] = f"{type(e).__name__}: {e}"
            cases.append(case)
    with open(os.path.join(HERE, "chat.json"), "w", encoding="utf-8") as f:
        json.dump({"now": NOW.isoformat(), "conversations": CONVERSATIONS, "cases": cases}, f, indent=1, ensure_ascii=False)

    env = ctu._compile_jinja_template("").environment
    jcases = []
    for source, context in JINJA:
        case = {"template": source, "context": context}
        try:
            case["output"] = env.from_string(source).render(**context)
        except Exception as e:
            case["error"] = f"{type(e).__name__}: {e}"
        jcases.append(case)
    with open(os.path.join(HERE, "jinja.json"), "w", encoding="utf-8") as f:
        json.dump({"now": NOW.isoformat(), "cases": jcases}, f, indent=1, ensure_ascii=False)
    print(f"{len(cases)} chat cases ({sum('error' in c for c in cases)} refused), {len(jcases)} template-language cases")


main()
