#!/usr/bin/env python3
"""The layers of src/ are enforced by the build: prove that they are.

src/meson.build makes each folder a static library that sees only its own
and lower layers' include directories, and puts guard headers
(src/guard/) ahead of the system's for the libraries a layer must not
know.  This test compiles tiny probe files with EXACTLY the flags the
build uses for one real source file of each layer (from
compile_commands.json), -fsyntax-only:

  * an upward #include, or a forbidden library's header, must FAIL, with
    the compiler naming the missing header or the guard's #error;
  * the layer's own header must compile (a control: a broken probe rig
    would otherwise "prove" every rule).

Usage: check_layers.py BUILD_ROOT
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile

# layer: (a real source file of it, headers it may include, headers and
# library headers it must not include)
LAYERS = {
    'base': ('src/base/log.c',
             ['log.h', 'config.h', 'merge.h', 'vs_hash.h'],
             ['shards.h', 'call.h', 'ops.h', 'dispatch.h', 'server.h',
              '<hiredis/hiredis.h>', '<nng/nng.h>',
              '<protobuf-c/protobuf-c.h>']),
    'shard': ('src/shard/shards.c',
              ['shards.h', 'health.h', 'config.h', '<hiredis/hiredis.h>'],
              ['call.h', 'round.h', 'ops.h', 'dispatch.h', 'server.h',
               'observe.h', '<nng/nng.h>', '<protobuf-c/protobuf-c.h>',
               'vsetd.pb-c.h']),
    'fanout': ('src/fanout/round.c',
               ['round.h', 'collection.h', 'shards.h', 'log.h'],
               ['ops.h', 'envelope.h', 'dispatch.h', 'server.h',
                'net_priv.h', '<nng/nng.h>', '<protobuf-c/protobuf-c.h>',
                'vsetd.pb-c.h']),
    'ops': ('src/ops/op_common.c',
            ['ops.h', 'round.h', 'vsetd.pb-c.h'],
            ['dispatch.h', 'envelope.h', 'server.h', 'observe.h',
             '<nng/nng.h>']),
    'rpc': ('src/rpc/dispatch.c',
            ['dispatch.h', 'envelope.h', 'ops.h', '<nng/nng.h>'],
            ['server.h', 'net_priv.h', 'observe.h', 'shards.h',
             'round.h', '<hiredis/hiredis.h>']),
    'net': ('src/net/worker.c',
            ['server.h', 'dispatch.h', 'resp_cmd.h'],
            ['observe.h']),
}


def inc_line(h):
    return '#include %s\n' % (h if h.startswith('<') else '"%s"' % h)


def main():
    build = os.path.abspath(sys.argv[1])
    source = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    with open(os.path.join(build, 'compile_commands.json')) as f:
        cmds = json.load(f)
    by_file = {}
    for c in cmds:
        path = os.path.normpath(os.path.join(c['directory'], c['file']))
        by_file[os.path.relpath(path, source)] = c
    bad = 0
    checks = 0
    with tempfile.TemporaryDirectory() as tmp:
        for layer, (real, ok, forbidden) in LAYERS.items():
            c = by_file.get(real)
            if c is None:
                print('not ok - %s: %s is not in compile_commands.json'
                      % (layer, real))
                return 1
            argv = shlex.split(c['command'])
            # drop -o OUT, -MD/-MF/-MQ, -c SRC: keep the flags
            flags, skip = [], 0
            for a in argv[1:]:
                if skip:
                    skip -= 1
                    continue
                if a in ('-o', '-MF', '-MQ', '-c'):
                    skip = 1
                    continue
                if a == '-MD':
                    continue
                flags.append(a)
            for h, want_ok in ([(h, True) for h in ok] +
                               [(h, False) for h in forbidden]):
                probe = os.path.join(tmp, 'probe_%s.c' % layer)
                with open(probe, 'w') as f:
                    f.write(inc_line(h) + 'int vsd_probe;\n')
                r = subprocess.run([argv[0]] + flags +
                                   ['-fsyntax-only', probe],
                                   cwd=c['directory'], capture_output=True,
                                   text=True)
                checks += 1
                passed = (r.returncode == 0) == want_ok
                why = ''
                if not want_ok and r.returncode != 0:
                    err = r.stderr
                    named = h.strip('<>"').split('/')[-1]
                    if ('layer rule' not in err and named not in err):
                        passed = False
                        why = ' (failed for another reason: %s)' % \
                            err.strip().splitlines()[-1:]
                print('%s - %s %s %s%s' % (
                    'ok' if passed else 'not ok', layer,
                    'may include' if want_ok else 'must not include', h,
                    why))
                if not passed:
                    bad += 1
                    if want_ok:
                        print('# ' + r.stderr.replace('\n', '\n# '))
    print('1..%d' % checks)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
