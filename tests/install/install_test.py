#!/usr/bin/python3
"""vsetd as an installable, operable service.

`meson install --destdir TMP` of the build under test, then, using only
what got installed:
- the files an operator expects are there: vsetd, vset, the library, its
  headers and vsetd-client.pc, man pages that render cleanly, the example
  configuration, and a systemd unit whose ExecStart is the real bindir and
  that `systemd-analyze verify` accepts;
- the example configuration's options are ones vsetd accepts (it starts with
  them, as the unit would pass them);
- a C program compiled with nothing but `pkg-config --cflags --libs
  vsetd-client` links against the installed library and, run against the
  installed vsetd and a real Redis 8 shard, inserts and searches;
- the Python client installs offline with pip (into a venv that sees
  Debian's python3-protobuf), protoc generating its messages, and works.

usage: install_test.py  (env: VSETD_BUILD_ROOT, VSETD_SOURCE_ROOT, REDIS_SERVER)
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
from typing import Dict, List, Tuple

SRC = os.path.abspath(os.environ.get("VSETD_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.path.abspath(os.environ.get("VSETD_BUILD_ROOT", os.path.join(SRC, "build")))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(SRC, "tests", "python"))
from vsetd_harness import Deployment  # noqa: E402

TMP = ""
DEST = ""
DIRS: Dict[str, str] = {}    # option name -> absolute installed path (without DEST)


def run(cmd: List[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if out.returncode != 0:
        raise AssertionError(f"{shlex.join(cmd)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out


def staged(option: str, *parts: str) -> str:
    """Where a file of an install dir landed under DEST."""
    return os.path.join(DEST + DIRS[option], *parts)


def setUpModule() -> None:
    global TMP, DEST
    TMP = tempfile.mkdtemp(prefix="vsetd-install-")
    DEST = os.path.join(TMP, "dest")
    opts = json.loads(run(["meson", "introspect", "--buildoptions", BUILD]).stdout)
    values = {o["name"]: o["value"] for o in opts}
    prefix = values["prefix"]
    for name in ("bindir", "libdir", "includedir", "mandir", "datadir", "sysconfdir"):
        v = values[name]
        DIRS[name] = v if os.path.isabs(v) else os.path.join(prefix, v)
    DIRS["prefix"] = prefix
    # --no-rebuild: `meson test` has just built everything, and a rebuild
    # from inside a test would fight other tests for the build dir.
    run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", DEST], timeout=300)


def tearDownModule() -> None:
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def listed_options(helptext: str) -> List[str]:
    """The options a --help text defines: those starting its option lines
    ("  -k K  ...", "  -h, --help  ...", "  --server URL  ...")."""
    opts: List[str] = []
    for m in re.finditer(r"^ {1,4}(-[A-Za-z](?:, --[a-z][a-z-]*)?|--[a-z][a-z-]*)", helptext, re.M):
        opts += m.group(1).split(", ")
    return opts


class InstalledFiles(unittest.TestCase):
    def test_programs_and_library(self) -> None:
        for name in ("vsetd", "vset"):
            path = staged("bindir", name)
            self.assertTrue(os.access(path, os.X_OK), path)
            # Installed binaries must not point back into the build tree.
            dyn = run(["readelf", "-d", path]).stdout
            self.assertNotIn(BUILD, dyn)
        self.assertEqual(run([staged("bindir", "vsetd"), "--version"]).stdout.split()[0], "vsetd")
        self.assertTrue(os.path.isfile(staged("includedir", "vsetd.h")))
        self.assertTrue(os.path.isfile(staged("libdir", "pkgconfig", "vsetd-client.pc")))
        self.assertTrue([f for f in os.listdir(staged("libdir")) if f.startswith("libvsetd-client.so")])

    def test_man_pages(self) -> None:
        for page in ("vsetd", "vset"):
            path = staged("mandir", "man1", f"{page}.1")
            self.assertTrue(os.path.isfile(path), path)
            out = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                                 timeout=60, env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": ""})
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stderr.strip(), "", f"{page}.1 has formatting warnings")
            self.assertIn(page, out.stdout)
        # Every option vsetd --help lists is documented in vsetd.1.
        helptext = run([staged("bindir", "vsetd"), "--help"]).stdout
        with open(staged("mandir", "man1", "vsetd.1")) as f:
            man = f.read().replace("\\-", "-")
        for opt in listed_options(helptext):
            self.assertTrue(opt in man, f"vsetd.1 does not document {opt}")
        # vset links the staged libvsetd-client, which is not on the
        # loader's path (the install prefix is not the real one).
        lib_env = {**os.environ, "LD_LIBRARY_PATH": staged("libdir")}
        helptext = run([staged("bindir", "vset"), "--help"], env=lib_env).stdout
        commands = re.findall(r"^  ([a-z]+) ", helptext.split("Commands:")[1].split("\n\n")[0], re.M)
        self.assertIn("search", commands)
        for cmd in commands:
            helptext += run([staged("bindir", "vset"), cmd, "--help"], env=lib_env).stdout
        with open(staged("mandir", "man1", "vset.1")) as f:
            man = f.read().replace("\\-", "-")
        for opt in listed_options(helptext):
            self.assertTrue(opt in man, f"vset.1 does not document {opt}")
        for cmd in commands:
            self.assertTrue(f".BR {cmd} " in man or f".BI {cmd} " in man or f".B {cmd}\n" in man,
                            f"vset.1 has no entry for the command {cmd}")

    def test_docs_installed(self) -> None:
        for name in ("vsetd.conf.example", "protocol.md"):
            self.assertTrue(os.path.isfile(staged("datadir", "doc", "vsetd", name)), name)

    def unit_path(self) -> str:
        return os.path.join(DEST + DIRS["prefix"], "lib", "systemd", "system", "vsetd.service")

    def test_systemd_unit(self) -> None:
        with open(self.unit_path()) as f:
            unit = f.read()
        self.assertIsNone(re.search(r"@[a-z]+@", unit), "unsubstituted @variable@")
        exec_start = re.search(r"^ExecStart=(\S+) --config %d/vsetd.conf$", unit, re.M)
        self.assertIsNotNone(exec_start, "ExecStart does not run vsetd --config")
        assert exec_start is not None
        self.assertEqual(exec_start.group(1), os.path.join(DIRS["bindir"], "vsetd"))
        self.assertIn(f"LoadCredential=vsetd.conf:{DIRS['sysconfdir']}/vsetd/vsetd.conf\n", unit)
        for key in ("Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes"):
            self.assertIn(key + "\n", unit)
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze not installed")
        # Verify a copy whose ExecStart points at the staged binary, with the
        # staged man pages on MANPATH (verify checks Documentation=man:...).
        d = os.path.join(TMP, "unit")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "vsetd.service"), "w") as f:
            f.write(unit.replace(exec_start.group(1), staged("bindir", "vsetd")))
        out = subprocess.run([analyze, "verify", os.path.join(d, "vsetd.service")],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "MANPATH": staged("mandir")})
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr.strip(), "", "systemd-analyze verify complained")


def config_lines(path: str) -> List[Tuple[bool, str, str]]:
    """(active, name, value) for each "name = value" line of a config file,
    commented-out ones ("# name = value") included as inactive."""
    out = []
    with open(path) as f:
        for line in f:
            m = re.match(r"^\s*(#\s*)?([a-z][a-z0-9-]*)\s*=\s*(.*?)\s*$", line)
            if m:
                out.append((m.group(1) is None, m.group(2), m.group(3)))
    return out


class InstalledService(unittest.TestCase):
    dep: Deployment

    @classmethod
    def setUpClass(cls) -> None:
        # The installed vsetd, not the build tree's.
        cls.dep = Deployment(shards=1, vsetd_bin=staged("bindir", "vsetd"))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.dep.close()

    def test_example_config_starts_vsetd(self) -> None:
        example = staged("datadir", "doc", "vsetd", "vsetd.conf.example")
        lines = config_lines(example)
        names = {name for _, name, _ in lines}
        self.assertTrue({"listen", "shard"} <= {name for active, name, _ in lines if active})
        # Every setting it mentions, active or commented out, is one vsetd
        # knows (the passwords are file-only, so not in --help).
        helptext = run([staged("bindir", "vsetd"), "--help"]).stdout
        for name in names - {"redis-password", "resp-password", "sentinel-password"}:
            self.assertIn(f"--{name}", helptext, f"the example mentions unknown setting {name}")
        # vsetd starts from it as the unit runs it (--config FILE), with this
        # test's listen address and shard instead of the example's.
        with Deployment(shards=1, start_vsetd=False) as d:
            url = d.start_vsetd(["--config", example], staged("bindir", "vsetd"))
            self.assertTrue(url.startswith("tcp://127.0.0.1:"))
            self.assertEqual(d.stop_vsetd(), 0)
        # A typo in the file is refused with exit status 2, naming the line.
        bad = os.path.join(TMP, "bad.conf")
        with open(bad, "w") as f:
            f.write("listen = tcp://127.0.0.1:0\nshard = 127.0.0.1:1\ndeadline-msx = 5\n")
        out = subprocess.run([staged("bindir", "vsetd"), "--config", bad], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn(f"{bad}:3", out.stderr)

    def test_c_program_against_installed_library(self) -> None:
        pc_env = {**os.environ,
                  "PKG_CONFIG_PATH": staged("libdir", "pkgconfig"),
                  # The .pc names the final prefix; the files are staged
                  # under DEST: pkg-config prefixes its -I/-L paths with it.
                  "PKG_CONFIG_SYSROOT_DIR": DEST}
        flags = run(["pkg-config", "--cflags", "--libs", "vsetd-client"], env=pc_env).stdout.split()
        self.assertTrue(any(f.startswith("-I" + DEST) for f in flags), flags)
        exe = os.path.join(TMP, "installed_client")
        cc = os.environ.get("CC", "cc")
        run([cc, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o", exe,
             os.path.join(SRC, "tests", "install", "installed_client.c"), *flags])
        out = run([exe, self.dep.url, "installed"], timeout=60,
                  env={**os.environ, "LD_LIBRARY_PATH": staged("libdir")})
        self.assertEqual(out.stdout.split("\n")[0].split()[1], "a")
        # And the library it ran with was the staged one.
        ldd = run(["ldd", exe], env={**os.environ, "LD_LIBRARY_PATH": staged("libdir")}).stdout
        self.assertRegex(ldd, r"libvsetd-client\.so\S* => " + re.escape(staged("libdir")))

    def test_python_package_installs_offline(self) -> None:
        # pip builds in the source tree: build from a copy (the setup.py hook
        # finds the proto at ../../proto), so the tree under test stays clean.
        src = os.path.join(TMP, "pysrc")
        shutil.copytree(os.path.join(SRC, "clients", "python"), os.path.join(src, "clients", "python"),
                        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        shutil.copytree(os.path.join(SRC, "proto"), os.path.join(src, "proto"))
        venv = os.path.join(TMP, "venv")
        # --system-site-packages: the venv sees Debian's python3-protobuf.
        run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv])
        py = os.path.join(venv, "bin", "python")
        run([py, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
             "--quiet", os.path.join(src, "clients", "python")], timeout=300)
        script = (
            "import sys, vsetd, vsetd.vsetd_pb2\n"
            "c = vsetd.Client(sys.argv[1], timeout=5)\n"
            "c.insert('pyinst', [('p', [0.0, 1.0]), vsetd.Item('q', [1.0, 0.0], {'x': 1})])\n"
            "r = c.search('pyinst', [0.1, 1.0], k=2)\n"
            "print(vsetd.__file__)\n"
            "print(' '.join(r.ids()))\n")
        out = run([py, "-c", script, self.dep.url], timeout=60, cwd=TMP).stdout.splitlines()
        self.assertTrue(out[0].startswith(venv), f"imported {out[0]}, not the venv's copy")
        self.assertEqual(out[1], "p q")


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))  # cleanup via atexit
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
