#!/usr/bin/env python3
"""Runs the SDK agent a case names, with the case's prompt.

A suite's loop command for the e2e tests: the case ($LOOPGATE_CASE) says which
agent (openai_chat.mjs or anthropic_messages.mjs), whether to stream, and the
prompt; this execs `node AGENT --prompt PROMPT [--stream]`.
"""
import json
import os
import sys

with open(os.environ["LOOPGATE_CASE"], encoding="utf-8") as f:
    case = json.load(f)
agent = os.path.join(os.path.dirname(os.path.abspath(__file__)), case["agent"])
args = ["node", agent, "--prompt", case["prompt"]]
if case.get("stream"):
    args.append("--stream")
sys.stdout.flush()
os.execvp("node", args)
