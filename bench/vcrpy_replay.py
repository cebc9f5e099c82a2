#!/usr/bin/env python3
"""bench/vcrpy_replay.py - the vcrpy peer of bench/bench_proxy.c.

    vcrpy_replay.py --exchanges FILE --dir DIR --upstream URL
                    [--seconds S] [--warmup W]

FILE holds bench_proxy's exchanges as JSON lines {"case", "call", "path",
"body", "response"}. For each case this records one cassette DIR/case-N.yaml
with vcrpy against the live upstream (the bench's simulated model), checking
that every answer is the expected one. Then it replays the cassettes the way
a vcrpy test suite does, in process and sequentially: per case, a
requests.Session post of each request inside vcr.use_cassette(...,
record_mode="none"), round robin over the cases, every answer checked
against the expected bytes; first for a warm-up, then for S seconds. Done
twice: with vcrpy's default matching (method, scheme, host, port, path,
query) and with the body matched too (what loopgate matches on).

Prints one JSON object: {"rps", "calls", "seconds", "rps_match_body",
"vcrpy", "http_library", "match_on"}. Exit status 0, 1 when a step failed.
Needs Debian's python3-vcr and python3-requests (scripts/setup --bench).
"""
import argparse
import json
import os
import sys
import time

import requests
import vcr

HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Authorization": "Bearer sk-bench-0123456789abcdefghijklmnopqrstuv",
    "User-Agent": "bench_proxy/1",
}
DEFAULT_MATCH = ("method", "scheme", "host", "port", "path", "query")


def load_cases(path):
    cases = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            e["body_bytes"] = e["body"].encode()
            e["response_bytes"] = e["response"].encode()
            cases.setdefault(e["case"], []).append(e)
    return [sorted(cases[c], key=lambda e: e["call"]) for c in sorted(cases)]


def post(session, url, e):
    r = session.post(url + e["path"], data=e["body_bytes"], headers=HEADERS)
    if r.status_code != 200 or r.content != e["response_bytes"]:
        raise SystemExit(f"vcrpy_replay: case {e['case']} call {e['call']}: unexpected answer "
                         f"(HTTP {r.status_code}, {len(r.content)} bytes)")


def replay(cases, paths, url, match_on, seconds):
    """Replays cassettes round robin for `seconds`; returns (calls, elapsed)."""
    my_vcr = vcr.VCR(record_mode="none", match_on=match_on)
    session = requests.Session()
    calls, i = 0, 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        with my_vcr.use_cassette(paths[i % len(cases)]):
            for e in cases[i % len(cases)]:
                post(session, url, e)
                calls += 1
        i += 1
        now = time.perf_counter()
        if now >= end:
            return calls, now - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exchanges", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    a = ap.parse_args()

    cases = load_cases(a.exchanges)
    paths = [os.path.join(a.dir, f"case-{i}.yaml") for i in range(len(cases))]
    recorder = vcr.VCR(record_mode="all", filter_headers=["authorization"])
    session = requests.Session()
    for calls, path in zip(cases, paths):
        if os.path.exists(path):
            os.unlink(path)
        with recorder.use_cassette(path):
            for e in calls:
                post(session, a.upstream, e)

    out = {}
    for key, match_on in (("rps", DEFAULT_MATCH), ("rps_match_body", DEFAULT_MATCH + ("body",))):
        replay(cases, paths, a.upstream, match_on, a.warmup)
        n, dt = replay(cases, paths, a.upstream, match_on, a.seconds)
        out[key] = n / dt
        if key == "rps":
            out["calls"] = n
            out["seconds"] = dt
    out["vcrpy"] = vcr.__version__ if hasattr(vcr, "__version__") else "?"
    out["http_library"] = f"requests {requests.__version__}"
    out["match_on"] = list(DEFAULT_MATCH)
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
