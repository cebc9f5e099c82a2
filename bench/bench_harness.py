#!/usr/bin/env python3
"""bench/bench_harness.py - what `loopgate run` costs per session.

Replays a 1,000-session run of a minimal external loop (bench/tiny_loop: a
C program making 8 chat-completion calls) with --jobs 2, and spawns the same
program 1,000 times without loopgate, 2 at a time, against the simulated
model: the peer measured in the same run. Peak memory of `loopgate run` at
1,000 and 10,000 sessions shows whether it grows with the run.

Prints one JSON object: sessions_per_s, overhead_ratio (replay wall time /
bare spawning wall time), peak_rss_mb_1k, peak_rss_mb_10k, and the raw times.
--quick: 200 and 1,000 sessions instead of 1,000 and 10,000.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
build = os.environ.get("LG_BUILDDIR", os.path.join(root, "build"))
lg = os.path.join(build, "harness", "cli", "loopgate")
tiny = os.path.join(build, "bench", "tiny_loop")
quick = "--quick" in sys.argv[1:]
N1, N2 = (200, 1000) if quick else (1000, 10000)
JOBS = 2

for p in (lg, tiny):
    if not os.access(p, os.X_OK):
        sys.exit(f"bench_harness: {p} is not built; run 'make'")

work = tempfile.mkdtemp(prefix="lg-bench-harness.")


def suite(n):
    path = os.path.join(work, f"tiny-{n}.yaml")
    with open(path, "w") as f:
        f.write(f"name: tiny-{n}\nseed: 1\ntrials: 1\ncases:\n  count: {n}\n"
                f"  generators:\n    city: {{choice: [Oslo, Lima]}}\n"
                f"loop:\n  command: [{tiny}]\nexpect:\n  contains: [done]\n")
    return path


def run(args, env=None):
    """Runs a command; returns (seconds, peak RSS of it in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    p = subprocess.run(args, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stdout.decode()[-2000:] + p.stderr.decode()[-2000:])
        sys.exit(f"bench_harness: {' '.join(args[:3])} exited {p.returncode}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return dt, max(after, before) / 1024.0


sim = subprocess.Popen([lg, "sim-server", "--port", "0"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, cwd=work)
try:
    line = sim.stdout.readline().decode()
    port = int(line.rsplit(":", 1)[1])
    up = f"http://127.0.0.1:{port}"
    results = {}
    for n in (N1, N2):
        s = suite(n)
        trace = os.path.join(work, f"tiny-{n}.lgt")
        db = os.path.join(work, f"results-{n}.db")
        run([lg, "run", s, "--record", trace, "--upstream", up, "--results", db,
             "--jobs", str(JOBS), "--no-progress"])
        # a fresh results DB per measured replay, the same trace
        secs, rss = run([lg, "run", s, "--replay", trace, "--results", db + ".replay",
                         "--jobs", str(JOBS), "--no-progress"])
        results[n] = (secs, rss)

    # the peer: the same program N1 times, JOBS at a time, straight at the sim
    env = dict(os.environ, OPENAI_BASE_URL=up + "/v1")

    def one(i):
        e = dict(env, LOOPGATE_CASE_ID=str(i))
        return subprocess.run([tiny], env=e, stdout=subprocess.DEVNULL).returncode

    t0 = time.monotonic()
    with ThreadPoolExecutor(JOBS) as ex:
        codes = list(ex.map(one, range(N1)))
    bare = time.monotonic() - t0
    if any(codes):
        sys.exit("bench_harness: tiny_loop failed against the sim")
finally:
    sim.terminate()
    sim.wait()
    shutil.rmtree(work, ignore_errors=True)

secs1, rss1 = results[N1]
secs2, rss2 = results[N2]
out = {
    "bench": "harness",
    "quick": quick,
    "sessions": N1,
    "jobs": JOBS,
    "calls_per_session": 8,
    "replay_seconds": round(secs1, 3),
    "bare_spawn_seconds": round(bare, 3),
    "sessions_per_s": round(N1 / secs1, 1),
    "bare_sessions_per_s": round(N1 / bare, 1),
    "overhead_ratio": round(secs1 / bare, 3),
    "target_overhead_ratio": 1.5,
    f"peak_rss_mb_{N1 // 1000}k" if N1 >= 1000 else f"peak_rss_mb_{N1}": round(rss1, 1),
    f"peak_rss_mb_{N2 // 1000}k": round(rss2, 1),
    "replay_seconds_large": round(secs2, 3),
    "note": "2 cores shared by loopgate, the loop processes and (for the peer) the sim; "
            "bare spawning runs the same program against the sim without loopgate",
}
print(json.dumps(out, indent=2))
