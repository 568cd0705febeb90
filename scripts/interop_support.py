"""Helpers shared by scripts/interop.py and every scripts/interop_<area>.py module.

A module exposes SECTIONS = {name: function(modelfile, work)}; interop.py loads every
scripts/interop_*.py (this file excepted) and runs the sections asked for. Checks print one line,
PASS or FAIL, and failures are collected here so that interop.py exits 1 if any failed.
"""
import subprocess

failures = []
passes = []


def check(name, condition, detail=""):
    """Records and prints one check."""
    print(("PASS " if condition else "FAIL ") + name + ("" if condition else f": {detail}"), flush=True)
    (passes if condition else failures).append(name)
    return condition


def run(modelfile, *args, expect=0):
    """Runs modelfile; raises unless it exits with `expect`. Output is bytes, undecoded."""
    result = subprocess.run([modelfile, *args], capture_output=True)
    if result.returncode != expect:
        raise RuntimeError(f"modelfile {' '.join(map(str, args))} exited {result.returncode}: {result.stderr.decode(errors='replace').strip()}")
    return result
