#!/usr/bin/env python3
"""libvsetd-client exports exactly its public API (issue 13).

argv: the built libvsetd-client.so, include/vsetd.h, clients/c/exports.py.
Checks, with nm -D: every function vsetd.h declares is exported; every
exported symbol is either one of those or generated protobuf-c code of
vsetd.proto (vsetd__v1__*); none of the library's helpers (vs_set_error,
vs_sp_call, vs_hist_*...) leaks.  TAP output.
"""
import subprocess
import sys


def main() -> int:
    lib, header, exports = sys.argv[1:4]
    public = set(subprocess.run([sys.executable, exports, header, "-", "--list"],
                                check=True, capture_output=True, text=True).stdout.split())
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    exported = {line.split()[-1] for line in out.splitlines() if line.strip()}
    missing = sorted(public - exported)
    extra = sorted(s for s in exported - public if not s.startswith("vsetd__v1__"))
    print("1..3")
    print(f"{'ok' if len(public) > 40 else 'not ok'} 1 - vsetd.h declares "
          f"{len(public)} functions")
    print(f"{'ok' if not missing else 'not ok'} 2 - every vsetd.h function is "
          f"exported{': missing ' + ', '.join(missing) if missing else ''}")
    print(f"{'ok' if not extra else 'not ok'} 3 - nothing else is exported"
          f"{': ' + ', '.join(extra[:20]) if extra else ''}")
    return 1 if missing or extra or len(public) <= 40 else 0


if __name__ == "__main__":
    sys.exit(main())
