#!/usr/bin/env python3
"""tests/e2e/secret_scan.py - look for secrets in a `loopgate export` of a trace.

    secret_scan.py EXPORT.jsonl [--expect TEXT]... NAME=SECRET...

The export holds every decoded body of the trace (requests, responses,
kept headers, stream chunks, tool output) and every event field. Each
SECRET is searched for
  - in every string of every line, keys included (a body, a header value,
    a chunk's bytes, a session key);
  - in the text a client reassembles from each recorded stream: the
    concatenated deltas of the OpenAI (choices[].delta.content, refusal,
    tool_calls[].function.arguments, and Responses' `delta`) and Anthropic
    (delta.text, delta.partial_json, delta.thinking) events, per choice or
    content block, since a model streams a secret in pieces and no single
    chunk holds all of it.
Every --expect TEXT must occur somewhere (e.g. the placeholder
"<redacted:email>"), which shows the scan really saw the redacted text.

Prints one line per finding ("session S, call N, FIELD: NAME") and a summary;
exit status 0 when nothing was found and every --expect occurred, 1 otherwise,
2 on bad usage.
"""
import base64
import binascii
import json
import sys

OPENAI_DELTA_KEYS = ("content", "refusal", "reasoning_content")


def unb64(s):
    """The bytes of a body the export wrote as NAME_base64, as text."""
    try:
        return base64.b64decode(s, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def strings(v, path):
    """Yields (path, string) for every string in v, object keys included;
    a NAME_base64 body is decoded first."""
    if isinstance(v, str):
        yield path, v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield path + "{key}", k
            if k.endswith("_base64") and isinstance(x, str):
                yield f"{path}.{k} (decoded)", unb64(x)
            yield from strings(x, f"{path}.{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from strings(x, f"{path}[{i}]")


def sse_data(text):
    """The JSON values of the data: fields of an SSE text (one chunk or more)."""
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = [ln[5:].lstrip(" ") for ln in block.split("\n") if ln.startswith("data:")]
        if not data:
            continue
        try:
            yield json.loads("\n".join(data))
        except ValueError:
            continue


def chunk_text(c):
    """A recorded chunk's bytes as the export wrote them (text, base64 or JSON)."""
    if "data_text" in c:
        return c["data_text"]
    if "data_base64" in c:
        return unb64(c["data_base64"])
    if "data" in c:
        return json.dumps(c["data"])
    return ""


def reassemble(events):
    """Text of each logical stream field: {(kind, index, field): text}."""
    out = {}

    def add(key, piece):
        if isinstance(piece, str) and piece:
            out[key] = out.get(key, "") + piece

    for ev in events:
        if not isinstance(ev, dict):
            continue
        for ch in ev.get("choices") or []:  # OpenAI chat completions
            if not isinstance(ch, dict):
                continue
            d = ch.get("delta") or {}
            i = ch.get("index", 0)
            for k in OPENAI_DELTA_KEYS:
                add(("choice", i, k), d.get(k))
            for tc in d.get("tool_calls") or []:
                fn = tc.get("function") or {}
                add(("choice", i, f"tool{tc.get('index', 0)}.arguments"), fn.get("arguments"))
        t = ev.get("type", "")
        if t.startswith("response.") and isinstance(ev.get("delta"), str):  # OpenAI Responses
            add(("output", ev.get("output_index", 0), t), ev["delta"])
        if t == "content_block_delta":  # Anthropic
            d = ev.get("delta") or {}
            for k in ("text", "partial_json", "thinking"):
                add(("block", ev.get("index", 0), k), d.get(k))
    return out


def main(argv):
    expects, secrets, path = [], [], None
    it = iter(argv[1:])
    for a in it:
        if a == "--expect":
            expects.append(next(it, None))
        elif "=" in a and path is not None:
            name, value = a.split("=", 1)
            if len(value) < 4:
                print(f"secret_scan: secret {name} is too short to search for", file=sys.stderr)
                return 2
            secrets.append((name, value))
        elif path is None:
            path = a
        else:
            print(f"secret_scan: unexpected argument '{a}'", file=sys.stderr)
            return 2
    if path is None or not secrets or None in expects:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    found = 0
    seen = {e: 0 for e in expects}
    lines = streams = nstrings = 0

    def check(where, text):
        nonlocal found, nstrings
        nstrings += 1
        for e in expects:
            if e in text:
                seen[e] += 1
        for name, value in secrets:
            if value in text:
                found += 1
                print(f"{where}: {name}")

    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            lines += 1
            check(f"line {n} (raw)", line)
            rec = json.loads(line)
            where = f"session {rec.get('session', rec.get('key', '?'))}"
            if "call" in rec:
                where += f", call {rec['call']}"
            for p, s in strings(rec, ""):
                check(f"{where}, {p or '(top)'}", s)
            chunks = rec.get("chunks")
            if isinstance(chunks, list) and chunks:
                streams += 1
                text = "".join(chunk_text(c) for c in chunks if isinstance(c, dict))
                for key, s in reassemble(sse_data(text)).items():
                    check(f"{where}, reassembled stream {key[0]} {key[1]} {key[2]}", s)
    for e, k in seen.items():
        if not k:
            print(f"expected text not found anywhere: {e}")
    print(f"secret_scan: {lines} lines, {streams} streams, {nstrings} strings searched; "
          f"{found} secrets found", file=sys.stderr)
    return 1 if found or not all(seen.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
