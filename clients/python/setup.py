"""Build hook: generate vsetd/vsetd_pb2.py from the proto at build time.

The generated module is never committed; it is written into the build tree
(build_lib), so the source tree stays clean.  The proto is found at
$VSETD_PROTO or ../../proto/vsetd/v1/vsetd.proto next to this file; protoc
at $PROTOC or on PATH.  Everything else is in pyproject.toml.
"""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithProtoc(build_py):
    def run(self):
        super().run()
        proto = os.environ.get("VSETD_PROTO") or os.path.join(
            HERE, "..", "..", "proto", "vsetd", "v1", "vsetd.proto")
        proto = os.path.abspath(proto)
        if not os.path.isfile(proto):
            raise SystemExit(f"vsetd: proto not found at {proto} (set VSETD_PROTO)")
        protoc = os.environ.get("PROTOC") or shutil.which("protoc")
        if not protoc:
            raise SystemExit("vsetd: protoc not found (Debian: apt-get install protobuf-compiler)")
        out = os.path.join(self.build_lib, "vsetd")
        os.makedirs(out, exist_ok=True)
        # --proto_path is the proto's own folder, as for protoc-c in
        # proto/meson.build, so the module is vsetd_pb2 inside the package.
        subprocess.check_call([protoc, f"--proto_path={os.path.dirname(proto)}",
                               f"--python_out={out}", proto])


setup(cmdclass={"build_py": BuildPyWithProtoc})
