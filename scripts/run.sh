#!/usr/bin/env bash
# Start the action server and the Rasa server, wait until both answer,
# print where to chat, and stop both on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
MODEL=$(cat models/current)
mkdir -p var/log
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore::DeprecationWarning,ignore::PendingDeprecationWarning}
# One thread pool per op is faster than oversubscribing 2 cores (measured).
export TF_INTER_OP_PARALLELISM_THREADS=${TF_INTER_OP_PARALLELISM_THREADS:-1}
export TF_INTRA_OP_PARALLELISM_THREADS=${TF_INTRA_OP_PARALLELISM_THREADS:-1}

# Rasa's HTTP API (/conversations, /model) stays off unless a token is given.
api_args=()
if [[ -n "${RASA_API_TOKEN:-}" ]]; then
  api_args=(--enable-api --auth-token "$RASA_API_TOKEN")
fi

for port in "$ACTIONS_PORT" "$RASA_PORT"; do
  if "$PY" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)"; then
    echo "✗ port $port is already in use (is another 'make run' still running?)." >&2
    echo "  Stop it, or choose other ports: RASA_PORT=... ACTIONS_PORT=... make run" >&2
    exit 1
  fi
done

pids=()
stop() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    echo; echo "→ stopping (pids ${pids[*]})"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop INT TERM EXIT

"$PY" -m rasa_sdk --actions actions --port "$ACTIONS_PORT" >var/log/actions.log 2>&1 &
pids+=($!)
"$PY" -m rasa run --model "$MODEL" --port "$RASA_PORT" \
  --credentials credentials.yml --endpoints "${ANXIN_ENDPOINTS:-endpoints.yml}" \
  --cors "${ANXIN_CORS_ORIGIN:-http://localhost:8080}" "${api_args[@]}" \
  >var/log/rasa.log 2>&1 &
pids+=($!)

echo "→ starting the action server (:$ACTIONS_PORT) and Rasa (:$RASA_PORT); logs in var/log/"
start=$(date +%s)
"$PY" scripts/wait_ready.py --timeout "${ANXIN_START_TIMEOUT:-300}" \
  "http://localhost:$ACTIONS_PORT/health" "http://localhost:$RASA_PORT/" \
  --pids "${pids[@]}" || { tail -n 30 var/log/rasa.log var/log/actions.log; exit 1; }
cat <<MSG
✓ 安心 is ready after $(( $(date +%s) - start )) s.
  REST:      curl -s localhost:$RASA_PORT/webhooks/rest/webhook -d '{"sender":"me","message":"你好"}'
  Socket.IO: ws://localhost:$RASA_PORT/socket.io
  Terminal:  make shell  (in another terminal)
  Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
echo "✗ a server stopped unexpectedly; see var/log/" >&2
exit 1
