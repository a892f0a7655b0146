#!/usr/bin/env python3
"""Counts the public API of a module: its public types and members as the symbol graph lists
them, declared in the module's own sources, underscored names left out.

    swift package dump-symbol-graph --minimum-access-level public
    scripts/public-api.py .build/x86_64-unknown-linux-gnu/symbolgraph/KVCache.symbols.json [--list]
"""
import collections
import json
import sys

TYPES = {"swift.struct", "swift.class", "swift.enum", "swift.protocol", "swift.typealias"}


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    graph = json.load(open(sys.argv[1]))
    counts, names = collections.Counter(), []
    for symbol in graph["symbols"]:
        path = symbol["pathComponents"]
        if symbol["accessLevel"] != "public" or "location" not in symbol or any(p.startswith("_") for p in path):
            continue
        kind = symbol["kind"]["identifier"]
        counts["types" if kind in TYPES else "members"] += 1
        names.append(f"{'.'.join(path)} ({kind.split('.')[-1]})")
    print(f"{counts['types']} public types, {counts['members']} public members")
    if "--list" in sys.argv:
        print("\n".join(sorted(names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
