#!/usr/bin/env python3
"""The validator of suites/codegen-gate.yaml: compile, then the hidden test.

loopgate runs it after a trial with the case (hidden fields included) in
$LOOPGATE_CASE and the trial's work directory in $LOOPGATE_WORKDIR. It
compiles $LOOPGATE_WORKDIR/solution.py, then runs the case's hidden `test`
(Python that imports the function and asserts on it) in a fresh interpreter
in that directory, with a time limit. Exit status 0 passes; otherwise the
last lines of what went wrong are printed for the report.
"""
import json
import os
import subprocess
import sys


def main():
    with open(os.environ["LOOPGATE_CASE"], encoding="utf-8") as f:
        case = json.load(f)
    workdir = os.environ["LOOPGATE_WORKDIR"]
    if not os.path.exists(os.path.join(workdir, "solution.py")):
        print("no solution.py in the work directory")
        return 1
    steps = [("compile", [sys.executable, "-S", "-m", "py_compile", "solution.py"]),
             ("hidden test", [sys.executable, "-S", "-c", case["test"]])]
    for name, argv in steps:
        try:
            r = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            print("%s: timed out after 20 s" % name)
            return 1
        if r.returncode != 0:
            tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
            print("%s failed: %s" % (name, " | ".join(tail)))
            return 1
    print("compiles and passes the hidden test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
