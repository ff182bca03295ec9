#!/usr/bin/env bash
# Fuzzes a running API from its OpenAPI document with schemathesis (PyPI) and fails on any 5xx.
#
#   eval "$(bash scripts/services.sh env)"; gosight api &
#   bash scripts/fuzz_api.sh EMAIL PASSWORD [API_URL]
#
# Signs in, creates a project to aim the project-scoped routes at, and runs every operation.
set -euo pipefail
email=$1 password=$2 api=${3:-http://127.0.0.1:8082}
cache="${XDG_CACHE_HOME:-$HOME/.cache}/gosight-dev/schemathesis"
[ -x "$cache/bin/st" ] || { python3 -m venv "$cache" && "$cache/bin/pip" install -q 'schemathesis==4.*'; }
post() { curl -sf "$api$1" -H 'content-type: application/json' -H "authorization: Bearer ${token:-}" -d "$2"; }
token=$(post /api/v1/auth/login "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
project=$(post /api/v1/projects '{"name":"fuzz"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[parameters]\n"path.id" = "%s"\n' "$project" > "$work/schemathesis.toml"
cd "$work"
"$cache/bin/st" run "$api/api/openapi.json" -H "Authorization: Bearer $token" \
  --checks not_a_server_error --max-examples "${FUZZ_EXAMPLES:-60}"
