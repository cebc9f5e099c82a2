#!/usr/bin/env python3
"""A compile-gate loop that writes a small Python module (suites/codegen-gate.yaml).

The loop under test, in plain Python (standard library only). Per trial:

  1. Read the case ($LOOPGATE_CASE): a prompt asking for one function.
  2. Ask the model (OpenAI chat completions at $OPENAI_BASE_URL, model
     $CODEGEN_AGENT_MODEL, default sim-1) for the module.
  3. Take the code from the reply's ```python block (a reply without one
     gets a corrective re-prompt), write it to solution.py in the work
     directory, and run the verification gate: python3 -m py_compile.
  4. If it does not compile, send the compiler's stderr back and ask again;
     once it compiles, answer "solution.py". At most
     $CODEGEN_AGENT_MAX_ITERATIONS (default 5) model calls, then it stops
     with reason max_iterations.

The gate is external: the model never grades itself. Whether the function
is right is for the suite's validator (examples/codegen_check.py, with a
hidden test) to say. Events reported to loopgate: `iteration` per model
call, `tool` write_file per file written (it is written in a replay too:
the validator reads it), `verify` per compile, `end`. The compile itself
goes through loopgate's tool gate (tool `py_compile`, its arguments the
source): a replay gets the recorded compiler output instead of running it,
so the fed-back messages are the recording's whatever python3 CI has.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lg_client  # noqa: E402

MODEL = os.environ.get("CODEGEN_AGENT_MODEL", "sim-1")
MAX_ITERATIONS = int(os.environ.get("CODEGEN_AGENT_MAX_ITERATIONS", "5"))
SYSTEM = ("You write small, correct Python modules. Reply with the whole module in one "
          "```python code block and nothing else.")
FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S)


def main():
    case = lg_client.case()
    workdir = os.environ.get("LOOPGATE_WORKDIR", ".")
    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": case["prompt"]}]
    hint = lg_client.case_hint()
    for iteration in range(1, MAX_ITERATIONS + 1):
        lg_client.event("iteration", index=iteration)
        body = {"model": MODEL, "messages": messages, "temperature": 0}
        if hint:
            body["user"] = hint
        try:
            reply = lg_client.chat(body)
        except lg_client.ModelError as e:
            lg_client.event("end", reason="fatal_error", error=str(e)[:300])
            print("model call failed: %s" % e, file=sys.stderr)
            return 1
        content = reply["choices"][0]["message"].get("content") or ""
        messages.append({"role": "assistant", "content": content})
        m = FENCE.search(content)
        if not m:
            lg_client.event("note", text="no code block in the reply, re-prompting")
            messages.append({"role": "user", "content":
                             "Reply with the whole module in one ```python code block."})
            continue
        code = m.group(1)
        with open(os.path.join(workdir, "solution.py"), "w", encoding="utf-8") as f:
            f.write(code)
        # not a process: no exit code, so a replay writes the file too
        lg_client.event("tool", name="write_file",
                        args={"path": "solution.py", "content": code},
                        stdout="wrote %d bytes" % len(code.encode()))

        def compile_it():
            # a relative path, so the message is the same in every work directory
            r = subprocess.run([sys.executable, "-S", "-m", "py_compile", "solution.py"],
                               cwd=workdir, capture_output=True, text=True, timeout=60)
            return r.stderr, r.returncode
        try:
            errors, status, _ = lg_client.tool("py_compile", {"path": "solution.py",
                                                              "source": code}, compile_it)
        except lg_client.Diverged as e:
            lg_client.event("end", reason="fatal_error", error=str(e)[:300])
            print("the compile step diverged from the recording: %s" % e, file=sys.stderr)
            return 1
        lg_client.event("verify", **{"pass": status == 0, "message": errors[-2000:]})
        if status == 0:
            lg_client.event("end", reason="success", converged=True)
            print("solution.py")
            return 0
        messages.append({"role": "user", "content":
                         "python3 -m py_compile solution.py failed:\n" + errors +
                         "\nFix the module and reply with the whole file."})
    lg_client.event("end", reason="max_iterations",
                    error="solution.py still does not compile after %d iterations"
                    % MAX_ITERATIONS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
