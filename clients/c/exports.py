#!/usr/bin/env python3
"""The linker version script of libvsetd-client, from its public header.

Usage: exports.py vsetd.h OUT.map [--list]

The library exports exactly the functions vsetd.h declares (the vs_ API)
and the generated protobuf-c code of vsetd.proto (vsetd__v1__*, whose
header is installed too); every other symbol, the library's own helpers
and the vs_common code linked into it, stays local.  With --list it prints
the function names instead (for the test that checks the .so).
"""
import re
import sys

# a declaration: a return type at the start of a line, then vs_name(
DECL = re.compile(r"^[A-Za-z_][\w \*]*?\b(vs_\w+)\s*\(", re.M)


def public_functions(header: str) -> list:
    with open(header, encoding="utf-8") as f:
        return sorted(set(DECL.findall(f.read())))


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    names = public_functions(sys.argv[1])
    if "--list" in sys.argv[3:]:
        print("\n".join(names))
        return 0
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        out.write("/* generated from vsetd.h by clients/c/exports.py */\n")
        out.write("{\n  global:\n")
        for n in names:
            out.write(f"    {n};\n")
        out.write("    vsetd__v1__*;\n  local:\n    *;\n};\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
