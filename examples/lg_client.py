"""Small helpers the example agents share: Python 3 standard library only.

- chat(): one OpenAI chat completions call through $OPENAI_BASE_URL, with the
  retry policy of a careful loop: 429 waits as long as Retry-After says,
  5xx, resets and cut responses back off exponentially (0.2 s, 0.4 s, ...,
  capped at 2 s); anything else (400, 401, a 409 replay divergence) is final.
- event(): reports a loop event to loopgate (POST $LOOPGATE_URL/event); a
  no-op when the agent runs without loopgate.
- tool(): runs a tool through loopgate's tool gate (POST $LOOPGATE_URL/tool):
  when replaying, the recorded result comes back and the tool does not run
  (no refund is issued twice, no compiler version matters); a repeated
  idempotency key gets the first result; otherwise the tool runs here and
  its result is reported as a `tool` event.
- case(): the case the harness gave ($LOOPGATE_CASE), hidden fields removed.

Plain http:// URLs (loopgate's proxy on 127.0.0.1) are spoken with a socket
and HTTP/1.1, which keeps start-up to a few milliseconds, so a suite of a
few hundred trials runs in seconds; https:// URLs (a real provider, used
without loopgate) go through urllib. Nothing here knows about loopgate's
simulated model: pointed at any OpenAI-compatible endpoint it works the same.
"""
import json
import os
import socket
import time

BASE_URL = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
API_KEY = os.environ.get("OPENAI_API_KEY", "")
LOOPGATE_URL = os.environ.get("LOOPGATE_URL", "").rstrip("/")
MAX_ATTEMPTS = 6
RESPONSE_CAP = 64 << 20


class ModelError(Exception):
    """A model call that failed for good (after retries, or not retryable)."""


class HTTPError(Exception):
    def __init__(self, status, headers, body):
        super().__init__("HTTP %d: %s" % (status, body[:300].decode("utf-8", "replace")))
        self.status = status
        self.headers = headers


class TransportError(Exception):
    """No complete response: refused, reset, or cut mid-way."""


def case():
    path = os.environ.get("LOOPGATE_CASE")
    if not path:
        raise SystemExit("LOOPGATE_CASE is not set: run this agent with `loopgate run SUITE`")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def case_hint():
    """'loopgate:case=I:trial=T' for the request's `user` field, or None.

    It tells loopgate's simulated model which case a request belongs to when
    no proxy header does; real providers treat it as an opaque end-user id.
    """
    cid = os.environ.get("LOOPGATE_CASE_ID")
    if cid is None:
        return None
    return "loopgate:case=%s:trial=%s" % (cid, os.environ.get("LOOPGATE_TRIAL", "0"))


def _dechunk(body):
    out, i = bytearray(), 0
    while True:
        eol = body.find(b"\r\n", i)
        if eol < 0:
            raise TransportError("chunked body cut mid-way")
        size = int(body[i:eol].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        start = eol + 2
        if len(body) < start + size + 2:
            raise TransportError("chunked body cut mid-way")
        out += body[start:start + size]
        i = start + size + 2


def _post_plain(url, data, headers, timeout):
    """POST over a socket to an http:// URL; returns (status, headers, body)."""
    rest = url[len("http://"):]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    lines = ["POST /%s HTTP/1.1" % path, "Host: %s" % hostport, "Connection: close",
             "Content-Length: %d" % len(data)]
    lines += ["%s: %s" % kv for kv in headers.items()]
    try:
        with socket.create_connection((host, int(port or 80)), timeout=timeout) as s:
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
            buf = bytearray()
            while len(buf) < RESPONSE_CAP:
                piece = s.recv(65536)
                if not piece:
                    break
                buf += piece
    except OSError as e:
        raise TransportError("%s: %s" % (type(e).__name__, e)) from e
    head, sep, body = bytes(buf).partition(b"\r\n\r\n")
    if not sep:
        raise TransportError("connection closed before a complete response head")
    head_lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(head_lines[0].split()[1])
    except (IndexError, ValueError) as e:
        raise TransportError("bad status line %r" % head_lines[0]) from e
    hdrs = {}
    for ln in head_lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    elif "content-length" in hdrs and len(body) < int(hdrs["content-length"]):
        raise TransportError("response cut mid-way (%d of %s bytes)"
                             % (len(body), hdrs["content-length"]))
    return status, hdrs, body


def _post_urllib(url, data, headers, timeout):
    import http.client
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise TransportError("%s: %s" % (type(e).__name__, e)) from e


def post_json(url, obj, headers=None, timeout=120):
    """POSTs `obj` as JSON; returns the parsed response. Raises HTTPError
    for a non-2xx status and TransportError when no complete response came."""
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = json.dumps(obj).encode()
    post = _post_plain if url.startswith("http://") else _post_urllib
    status, hdrs, body = post(url, data, h, timeout)
    if status // 100 != 2:
        raise HTTPError(status, hdrs, body)
    try:
        return json.loads(body)
    except ValueError as e:
        raise TransportError("response is not JSON: %s" % e) from e


def event(kind, **fields):
    if not LOOPGATE_URL:
        return
    fields["type"] = kind
    post_json(LOOPGATE_URL + "/event", fields, timeout=30)


class Diverged(Exception):
    """Replay: the loop asked for something the recording does not have."""


_local_results = {}  # idempotency key -> result, when running without loopgate


def tool(name, args, run, idem_key=None):
    """Runs `run()` (returning (stdout, exit_code)) as tool `name` with `args`.

    Returns (stdout, exit_code, how): how is "ran", "replayed" (the
    recording's result; it did not run) or "idempotent" (the first result of
    `idem_key`; it did not run again).
    """
    if LOOPGATE_URL:
        req = {"name": name, "args": args}
        if idem_key:
            req["idem_key"] = idem_key
        try:
            ans = post_json(LOOPGATE_URL + "/tool", req, timeout=30)
        except HTTPError as e:
            if e.status == 409:
                raise Diverged(str(e)) from e
            raise
        if ans.get("replay"):
            return (ans.get("stdout") or "", int(ans.get("exit_code", 0)),
                    "idempotent" if ans.get("idempotent") else "replayed")
    elif idem_key in _local_results:
        return _local_results[idem_key] + ("idempotent",)
    out, code = run()
    if idem_key:
        _local_results[idem_key] = (out, code)
    ev = {"name": name, "args": args, "stdout": out, "exit_code": code}
    if idem_key:
        ev["idempotency_key"] = idem_key
    event("tool", **ev)
    return out, code, "ran"


def _retry_delay(headers, attempt):
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        v = (headers or {}).get(name)
        if v:
            try:
                return min(float(v) * scale, 5.0)
            except ValueError:
                pass
    return min(0.2 * (2 ** attempt), 2.0)


def chat(body):
    """POSTs one chat completion; returns the parsed response object."""
    headers = {"Authorization": "Bearer " + API_KEY} if API_KEY else {}
    last = "no attempt"
    for attempt in range(MAX_ATTEMPTS):
        try:
            return post_json(BASE_URL + "/chat/completions", body, headers)
        except HTTPError as e:
            last = str(e)
            if e.status == 429 or e.status >= 500:
                time.sleep(_retry_delay(e.headers, attempt))
                continue
            raise ModelError(last) from e
        except TransportError as e:
            # a reset, a refused connection or a response cut mid-way
            last = str(e)
            time.sleep(_retry_delay(None, attempt))
    raise ModelError("gave up after %d attempts: %s" % (MAX_ATTEMPTS, last))
