#!/usr/bin/python3
"""Run the resharding tests with tests/python/run.py (which assembles the
vsetd package with its generated vsetd_pb2 in a temp dir), with this
folder on sys.path as well.

usage: run.py GEN_DIR|GEN_DIR/vsetd_pb2.py TEST_MODULE...
"""
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    sys.path.insert(0, HERE)
    runpy.run_path(os.path.join(HERE, "..", "python", "run.py"), run_name="__main__")
