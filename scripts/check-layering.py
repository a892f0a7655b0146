#!/usr/bin/env python3
"""Fails when a file of the KVCache library uses a name declared in a room above its own.

The library's folders are rooms on a ladder (docs/ARCHITECTURE.md): each uses only the rooms
below it, so data flows one way. A room's names are its top-level declarations (types,
typealiases, global functions); a use is that name as an identifier in code, outside comments
and string literals. Also fails when a module other than KVCache imports the C core.

    scripts/check-layering.py [PACKAGE_ROOT]
"""
import pathlib
import re
import sys

LADDER = ["Support", "Hashing", "Eviction", "Pool", "Index", "Selection", "Router"]
CORE_MODULE = "CKVCore"

DECLARATION = re.compile(
    r"^(?:@[\w.]+(?:\([^)]*\))?\s+)*"
    r"(?:(?:public|internal|package|fileprivate|private|final|nonisolated)\s+)*"
    r"(?:struct|class|enum|protocol|typealias|actor|func)\s+(\w+)")
IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")


def code_only(text):
    """The text with comments and string literals blanked (line structure kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('"""', i):
            j = text.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"' and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    library = root / "Sources" / "KVCache"
    problems = []
    files = {room: sorted((library / room).rglob("*.swift")) for room in LADDER}
    placed = {f for fs in files.values() for f in fs}
    for f in library.rglob("*.swift"):
        if f not in placed:
            problems.append(f"{f}: not in a room of the ladder ({', '.join(LADDER)})")
    declared = {}
    for level, room in enumerate(LADDER):
        for f in files[room]:
            for line in code_only(f.read_text()).splitlines():
                m = DECLARATION.match(line)
                if m:
                    declared.setdefault(m.group(1), (level, room))
    for level, room in enumerate(LADDER):
        for f in files[room]:
            for number, line in enumerate(code_only(f.read_text()).splitlines(), 1):
                for name in set(IDENTIFIER.findall(line)):
                    owner = declared.get(name)
                    if owner and owner[0] > level:
                        problems.append(f"{f}:{number}: {room} uses {name}, which {owner[1]} declares (a room above)")
    for f in (root / "Sources").rglob("*.swift"):
        if library in f.parents:
            continue
        for number, line in enumerate(f.read_text().splitlines(), 1):
            if re.match(rf"\s*(@\w+\s+)*import\s+{CORE_MODULE}\b", line):
                problems.append(f"{f}:{number}: imports {CORE_MODULE}; use KVCache's public API")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"check-layering: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check-layering: {sum(len(v) for v in files.values())} files in {len(LADDER)} rooms, each uses only rooms below it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
