#!/usr/bin/env python3
"""A customer-support loop that decides refund requests (suites/refund-policy.yaml).

The loop under test, in plain Python (standard library only). Per trial:

  1. Read the case ($LOOPGATE_CASE): a customer's refund request.
  2. Ask the model (OpenAI chat completions at $OPENAI_BASE_URL, model
     $REFUND_AGENT_MODEL, default sim-1) with three tools: lookup_policy,
     lookup_order and issue_refund.
  3. Run each tool call it makes, feed the result back, and ask again, until
     it answers with one word: approve, deny or escalate. Anything else gets
     one corrective re-prompt per answer ("reply with exactly one word").
  4. Print the word (the answer loopgate validates).

The loop contract it keeps, and reports to loopgate (POST $LOOPGATE_URL/event):
  - every model call starts an `iteration` event; at most
    $REFUND_AGENT_MAX_ITERATIONS (default 8) iterations, then it stops with
    reason max_iterations;
  - every tool goes through loopgate's tool gate (POST $LOOPGATE_URL/tool):
    recording, it runs and is reported as a `tool` event; replaying, the
    recorded result comes back and nothing runs (no refund is issued in CI);
  - issue_refund is not idempotent: each call carries an idempotency key
    (tool, arguments, session), and a repeated key gets the first result
    without refunding again (a `note` event says so);
  - the end: an `end` event with reason success, max_iterations or fatal_error.

Run by `loopgate run suites/refund-policy.yaml`; the model can be the
simulated one (`--upstream sim`) or any OpenAI-compatible endpoint.
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lg_client  # noqa: E402

MODEL = os.environ.get("REFUND_AGENT_MODEL", "sim-1")
MAX_ITERATIONS = int(os.environ.get("REFUND_AGENT_MAX_ITERATIONS", "8"))
DECISIONS = ("approve", "deny", "escalate")

POLICY = (
    "Refund policy: gift cards and digital goods (e-books, software licences) are never "
    "refunded. Purchases made more than 30 days ago are not refunded. Refunds of $500 or "
    "more need a human: escalate them. Anything else bought within 30 days is approved; "
    "issue the refund with issue_refund before you answer approve."
)

SYSTEM = (
    "You are a customer-support agent deciding refund requests. Always call lookup_policy "
    "before you decide. If you approve, call issue_refund exactly once first. Then answer "
    "with exactly one word: approve, deny or escalate."
)

TOOLS = [
    {"type": "function", "function": {
        "name": "lookup_policy",
        "description": "The store's refund policy.",
        "parameters": {"type": "object", "properties": {
            "topic": {"type": "string", "description": "what the policy question is about"}},
            "required": ["topic"]}}},
    {"type": "function", "function": {
        "name": "lookup_order",
        "description": "The order record for an order id.",
        "parameters": {"type": "object", "properties": {
            "order_id": {"type": "string"}}, "required": ["order_id"]}}},
    {"type": "function", "function": {
        "name": "issue_refund",
        "description": "Refund an order. Not idempotent: call it once.",
        "parameters": {"type": "object", "properties": {
            "order_id": {"type": "string"}, "amount": {"type": "number"}},
            "required": ["order_id", "amount"]}}},
]


class Tools:
    """The mock back office (a real agent would call its services here)."""

    def __init__(self, case):
        self.case = case

    def lookup_policy(self, args):
        return POLICY

    def lookup_order(self, args):
        if args.get("order_id") != self.case.get("order_id"):
            return json.dumps({"error": "no such order: %s" % args.get("order_id")})
        return json.dumps({k: self.case.get(k) for k in
                           ("order_id", "item", "amount", "days_since_purchase", "customer")})

    def issue_refund(self, args):
        number = str(args.get("order_id", "")).replace("ORD-", "")
        return json.dumps({"refund_id": "RF-" + number, "order_id": args.get("order_id"),
                           "amount": args.get("amount"), "status": "issued"})

    def run(self, name, args):
        """Runs a tool call through loopgate's tool gate; returns its result."""
        fn = {"lookup_policy": self.lookup_policy, "lookup_order": self.lookup_order,
              "issue_refund": self.issue_refund}.get(name)
        key = None
        if name == "issue_refund":
            # not idempotent: the same refund in the same session must not run twice
            key = hashlib.sha256(json.dumps(
                [name, args, os.environ.get("LOOPGATE_SESSION", "")],
                sort_keys=True).encode()).hexdigest()[:16]
        if fn is None:
            return json.dumps({"error": "unknown tool %s" % name})
        out, _, how = lg_client.tool(name, args, lambda: (fn(args), 0), idem_key=key)
        if how == "idempotent":
            lg_client.event("note", text="%s repeated with idempotency key %s: the first "
                            "result, not run again" % (name, key))
        return out


def decision(text):
    word = (text or "").strip().strip(".!\"'`*").lower()
    return word if word in DECISIONS else None


def main():
    case = lg_client.case()
    tools = Tools(case)
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": case["request"]}]
    hint = lg_client.case_hint()
    for iteration in range(1, MAX_ITERATIONS + 1):
        lg_client.event("iteration", index=iteration)
        body = {"model": MODEL, "messages": messages, "tools": TOOLS, "temperature": 0}
        if hint:
            body["user"] = hint
        try:
            reply = lg_client.chat(body)
        except lg_client.ModelError as e:
            lg_client.event("end", reason="fatal_error", error=str(e)[:300])
            print("model call failed: %s" % e, file=sys.stderr)
            return 1
        msg = reply["choices"][0]["message"]
        calls = msg.get("tool_calls") or []
        if calls:
            messages.append({"role": "assistant", "content": msg.get("content"),
                             "tool_calls": calls})
            for call in calls:
                name = call["function"]["name"]
                try:
                    args = json.loads(call["function"].get("arguments") or "{}")
                except json.JSONDecodeError:
                    args = {}
                try:
                    result = tools.run(name, args)
                except lg_client.Diverged as e:
                    lg_client.event("end", reason="fatal_error", error=str(e)[:300])
                    print("tool call diverged from the recording: %s" % e, file=sys.stderr)
                    return 1
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
            continue
        word = decision(msg.get("content"))
        if word:
            lg_client.event("end", reason="success", converged=True)
            print(word)
            return 0
        # malformed output: one corrective re-prompt, counted as an iteration
        lg_client.event("note", text="malformed answer, re-prompting: %.80s" % msg.get("content"))
        messages.append({"role": "assistant", "content": msg.get("content") or ""})
        messages.append({"role": "user", "content":
                         "Reply with exactly one word: approve, deny or escalate."})
    lg_client.event("end", reason="max_iterations",
                    error="no decision after %d iterations" % MAX_ITERATIONS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
