#!/bin/sh
# tests/e2e/proxy_standalone.sh - `loopgate proxy` on its own: sessions from
# the X-Loopgate-Session header, every event's time offset sane (the first
# call of a session opened by routing is at a small offset, not a wrapped
# negative one), and the recording replays.
set -eu
. "$(dirname "$0")/lib.sh"
cd "$LG_TMP"

lg_start sim "$LOOPGATE" sim-server --port 0
lg_start px "$LOOPGATE" proxy --mode record --store rec.lgt --upstream "http://127.0.0.1:$sim_PORT" --port 0
python3 - "$px_PORT" <<'PY'
import json, sys, urllib.request
port = sys.argv[1]
for session in ("alpha", "beta"):
    for i in range(2):
        body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"{session} {i}"}]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json", "X-Loopgate-Session": session})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200, r.status
print("ok: 4 calls in 2 sessions through the standalone proxy")
PY
lg_stop px || true
"$LOOPGATE" export rec.lgt >rec.jsonl
python3 - rec.jsonl <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
events = [l for l in lines if "seq" in l]
sessions = {l["key"] for l in lines if l.get("type") == "session"}
assert sessions == {"alpha", "beta"}, sessions
assert len(events) == 4, len(events)
for e in events:
    # a wrapped-around offset would be ~1.8e16 us; a call takes seconds at most
    assert 0 <= e["t_us"] < 60_000_000, (e["session"], e["seq"], e["t_us"])
print("ok: sessions alpha and beta, every t_us within a minute of its session start")
PY
lg_stop sim || true
lg_start px2 "$LOOPGATE" proxy --mode replay --store rec.lgt --port 0
python3 - "$px2_PORT" <<'PY'
import json, sys, urllib.request
port = sys.argv[1]
body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "alpha 0"}]}).encode()
req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                             headers={"Content-Type": "application/json", "X-Loopgate-Session": "alpha"})
with urllib.request.urlopen(req, timeout=30) as r:
    assert r.status == 200 and json.load(r)["choices"], "replayed call"
print("ok: the recording replays with the model gone")
PY
echo "e2e proxy_standalone: 1 passed, 0 failed"
