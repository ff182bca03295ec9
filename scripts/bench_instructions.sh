#!/usr/bin/env bash
# Instructions per session-actor message in the routing bench, counted by valgrind's callgrind:
# unlike wall time, the count does not move with the machine's load, so two builds compare
# exactly on a noisy host.
#
#   bash scripts/bench_instructions.sh [PROFILE_SECONDS]     # default 12
#
# Runs `benches/sessions.rs` (route_apply_detect_10k_events, each message one session's batch of
# 10 events) under callgrind for PROFILE_SECONDS of its own (slowed) time, and prints how many
# messages the session actors handled and the instructions per message, everything the handler
# does included (row building, detection, insights, the session row). Needs valgrind
# (`apt-get install valgrind`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gosight/target}"
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
bench=$(cargo bench -p gosight-processor --bench sessions --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "sessions" and m.get("executable"):
        print(m["executable"])')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" \
  --bench 'route_apply_detect_10k_events$' --profile-time "${1:-12}" >/dev/null 2>&1
python3 - "$out" <<'PY'
import re, sys
names, calls, cost = {}, 0, 0
lines = open(sys.argv[1]).read().split("\n")
for i, line in enumerate(lines):
    m = re.match(r"(cfn|fn)=\((\d+)\)(?: (.*))?", line)
    if not m:
        continue
    if m.group(3):
        names[m.group(2)] = m.group(3)
    handler = "Handler<gosight_processor::actors::session_actor::Apply>>::handle"
    if m.group(1) == "cfn" and handler in names.get(m.group(2), "") and lines[i + 1].startswith("calls="):
        calls += int(lines[i + 1].split("=")[1].split()[0])
        cost += int(lines[i + 2].split()[1])
print(f"messages={calls} instructions_per_message={cost // max(calls, 1)}")
PY
