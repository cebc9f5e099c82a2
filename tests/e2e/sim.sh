#!/bin/sh
# tests/e2e/sim.sh - the official OpenAI and Anthropic SDKs run a tool-calling
# loop to completion against `loopgate sim-server`, streaming and not.
set -u
. "$(dirname "$0")/lib.sh"
lg_require_node

lg_start sim "$LOOPGATE" sim-server --port 0
echo "sim-server on port $sim_PORT (pid $sim_PID)"
export OPENAI_BASE_URL="http://127.0.0.1:$sim_PORT/v1"
export ANTHROPIC_BASE_URL="http://127.0.0.1:$sim_PORT"
export OPENAI_API_KEY=sk-loopgate-dummy ANTHROPIC_API_KEY=sk-ant-loopgate-dummy

for agent in openai_chat anthropic_messages; do
    for mode in plain stream; do
        flag=""
        [ $mode = stream ] && flag=--stream
        out="$LG_TMP/$agent.$mode"
        lg_agent "$out" "$agent.mjs" $flag || { cat "$out" "$out.err" >&2; lg_fail "$agent $mode exited $?"; }
        # two tool turns, then the answer: three model calls
        lg_expect_eq "$agent $mode calls" "$(lg_field "$out" calls)" 3
        answer=$(lg_field "$out" answer)
        case "$answer" in
        "Answer "????????" after 2 tool results: the tool said \"Sunny, 21 C in What is the weather in Paris? (step 2)\".") ;;
        *) lg_fail "$agent $mode answer: '$answer'" ;;
        esac
        echo "ok: $agent $mode answer"
        tokens=$(lg_field "$out" tokens)
        case "$tokens" in
        "0 in"* | *" 0 out") lg_fail "$agent $mode: no token usage reported ($tokens)" ;;
        esac
        eval "${agent}_$mode=\"\$answer\""
    done
done

# the same loop twice gives the same answer; streaming or not changes the
# request and so the answer's hash
again="$LG_TMP/again"
lg_agent "$again" openai_chat.mjs || lg_fail "second run failed"
lg_expect_eq "deterministic answer" "$(lg_field "$again" answer)" "$openai_chat_plain"
[ "$openai_chat_plain" != "$openai_chat_stream" ] || lg_fail "stream and plain requests gave the same hash"

# a changed prompt changes the answer
lg_agent "$again" openai_chat.mjs --prompt "Weather in Oslo?" || lg_fail "prompt run failed"
case "$(lg_field "$again" answer)" in
*"Weather in Oslo? (step 2)"*) echo "ok: answer follows the prompt" ;;
*) lg_fail "answer does not follow the prompt: $(lg_field "$again" answer)" ;;
esac

lg_stop sim || lg_fail "sim-server did not exit cleanly on SIGTERM"
echo "sim: all checks passed"
