#!/usr/bin/env bash
# Start the action server, the Rasa server and the web chat page, wait until
# all answer, print where to chat, and stop them all on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
# The scaled profile (make run-scaled): PostgreSQL, Redis, several Rasa processes behind
# nginx (serving/nginx.conf.template). Its defaults (every one can be set beforehand) are
# in scaled_env.sh.
if [[ "${ANXIN_PROFILE:-embedded}" == scaled ]]; then source scripts/scaled_env.sh; fi
RASA_PORT=${RASA_PORT:-5005}
# Several processes answer on RASA_PORT (Sanic workers, serving/workers.py): one per core
# in the embedded profile, sharing locks (var/locks), conversations (var/tracker.db), WeChat
# de-duplication and rate limits (ANXIN_STATE_DB) through files. The scaled profile runs
# one worker per process (it has several processes behind nginx, and Redis).
if [[ -n "${RASA_BACKEND_PORTS:-}" ]]; then
  export SANIC_WORKERS=${SANIC_WORKERS:-1}
else
  export SANIC_WORKERS=${SANIC_WORKERS:-${ANXIN_WORKERS:-2}}
fi
# One file per port: two bots on one machine (tests, benchmarks) never share it.
export ANXIN_STATE_DB=${ANXIN_STATE_DB-var/state-$RASA_PORT.db}
export ACTIONS_PORT=${ACTIONS_PORT:-5055}  # endpoints.yml reads it
WEB_PORT=${WEB_PORT:-8080}
MODEL=${ANXIN_MODEL:-$(cat models/current)}  # ANXIN_MODEL: serve another model (comparisons)
ENDPOINTS=${ANXIN_ENDPOINTS:-endpoints.yml}
LOG_DIR=${ANXIN_LOG_DIR:-var/log}
mkdir -p "$LOG_DIR"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore::DeprecationWarning,ignore::PendingDeprecationWarning}
# One thread pool per op is faster than oversubscribing 2 cores (measured).
export TF_INTER_OP_PARALLELISM_THREADS=${TF_INTER_OP_PARALLELISM_THREADS:-1}
export TF_INTRA_OP_PARALLELISM_THREADS=${TF_INTRA_OP_PARALLELISM_THREADS:-1}

# Rasa's HTTP API (/conversations, /model) stays off unless a token is given.
# Without it, Rasa's request bodies are capped at 1 MiB (Sanic's 100 MB is for model uploads).
api_args=()
max_body=${SANIC_REQUEST_MAX_SIZE:-1048576}
if [[ -n "${RASA_API_TOKEN:-}" ]]; then
  api_args=(--enable-api --auth-token "$RASA_API_TOKEN")
  max_body=${SANIC_REQUEST_MAX_SIZE:-100000000}
fi

# The action server answers only the Rasa server: a shared secret (a new random one per
# run unless given), sent by Rasa as the header the endpoints file names (actions/server.py).
if [[ -z "${ANXIN_ACTION_SECRET:-}" ]]; then
  ANXIN_ACTION_SECRET=$("$PY" -c 'import secrets; print(secrets.token_hex(24))')
fi
export ANXIN_ACTION_SECRET
if ! grep -q 'X-Anxin-Action-Secret: *\${ANXIN_ACTION_SECRET}' "$ENDPOINTS"; then
  echo "✗ $ENDPOINTS does not send the action server its secret. Add to its action_endpoint:" >&2
  echo '    headers:' >&2
  echo '      X-Anxin-Action-Secret: ${ANXIN_ACTION_SECRET}' >&2
  exit 1
fi
# Evidence download links are signed with ANXIN_EVIDENCE_SECRET (evidence/links.py): the action
# server makes them, the Rasa processes check them. Unless given, one random secret per install,
# kept in var/evidence.secret (owner-only), so a link given before a restart still works until it
# expires. Several machines (scaled profile) must be given the same one.
if [[ -z "${ANXIN_EVIDENCE_SECRET:-}" ]]; then
  secret_file=var/evidence.secret
  if [[ ! -s "$secret_file" ]]; then
    mkdir -p var
    (umask 077 && "$PY" -c 'import secrets; print(secrets.token_hex(32))' >"$secret_file.tmp" \
      && mv "$secret_file.tmp" "$secret_file")
  fi
  ANXIN_EVIDENCE_SECRET=$(<"$secret_file")
fi
export ANXIN_EVIDENCE_SECRET

read -r -a backends <<<"${RASA_BACKEND_PORTS:-}"
if ((${#backends[@]})) && [[ ! -x "${ANXIN_NGINX:-}" ]]; then
  echo "✗ the scaled profile needs nginx in front of its Rasa processes, and none was found." >&2
  echo "  Install it: make setup-nginx  (or point to one: ANXIN_NGINX=/path/to/nginx)" >&2
  exit 1
fi

# What the endpoints file (and ANXIN_INCIDENT_DB_URL, WECHAT_REDIS_URL) needs must answer now:
# a clear error within seconds, instead of Rasa waiting for PostgreSQL forever.
"$PY" -m serving.preflight --endpoints "$ENDPOINTS" || exit 1

for port in "$ACTIONS_PORT" "$RASA_PORT" "$WEB_PORT" "${backends[@]}"; do
  if "$PY" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)"; then
    echo "✗ port $port is already in use (is another 'make run' still running?)." >&2
    echo "  Stop it, or choose other ports: RASA_PORT=... ACTIONS_PORT=... WEB_PORT=... make run" >&2
    exit 1
  fi
done

pids=()
any_alive() {
  local pid
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}
stop() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    echo; echo "→ stopping (pids ${pids[*]})"
    kill "${pids[@]}" 2>/dev/null || true
    # A graceful stop within STOP_GRACE seconds, else a hard one: Ctrl-C must
    # not hang on a busy machine (Sanic's graceful shutdown can take long).
    local waited=0
    while any_alive && ((waited < ${STOP_GRACE:-20} * 4)); do
      sleep 0.25; waited=$((waited + 1))
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
# A signal stops everything and ends the script (bash would otherwise carry on after the
# handler, e.g. print "ready" once wait_ready.py returns).
trap 'stop; exit 130' INT TERM
trap stop EXIT

# Loopback only unless ANXIN_ACTIONS_HOST says otherwise; personal data masked in its log.
"$PY" -m actions.server --port "$ACTIONS_PORT" >"$LOG_DIR/actions.log" 2>&1 &
pids+=($!)
# Which processes stopping stops everything: all of them in one process; in the scaled
# profile only the entry points (nginx, web page): a Rasa process or the action server
# may be restarted behind them (nginx skips a dead Rasa; a dead action server gets
# users a polite "try again later").
essential=()
((${#backends[@]})) || essential+=($!)
# The web chat page calls Rasa from the browser: allow the page's origins (Socket.IO
# reads the same variable: channels/socketio.py).
export ANXIN_CORS_ORIGIN=${ANXIN_CORS_ORIGIN:-http://localhost:$WEB_PORT http://127.0.0.1:$WEB_PORT}
read -r -a cors <<<"$ANXIN_CORS_ORIGIN"
# privacy/logging.yml masks phone, ID and card numbers and names in every log line.
# Rasa runs through serving.server: `rasa` plus serving/patches.py (faster action calls, a polite
# reply when the action server fails). One process on RASA_PORT; in the scaled profile one per
# RASA_BACKEND_PORTS on loopback, behind nginx on RASA_PORT.
rasa_urls=() nginx_dir=""
for port in "${backends[@]:-$RASA_PORT}"; do
  log="$LOG_DIR/rasa.log" host_args=()
  if ((${#backends[@]})); then log="$LOG_DIR/rasa-$port.log" host_args=(--interface 127.0.0.1); fi
  SANIC_REQUEST_MAX_SIZE=$max_body "$PY" -m serving.server run --model "$MODEL" --port "$port" \
    "${host_args[@]}" --credentials credentials.yml --endpoints "$ENDPOINTS" \
    --logging-config-file privacy/logging.yml \
    --cors "${cors[@]}" "${api_args[@]}" \
    >"$log" 2>&1 &
  pids+=($!)
  ((${#backends[@]})) || essential+=($!)
  rasa_urls+=("http://localhost:$port/")
done
if ((${#backends[@]})); then
  # nginx as this user, in the foreground, its config, pid file and temporary files in
  # var/nginx/RASA_PORT/ (one folder per port: several scaled profiles may run at once).
  nginx_dir=$PWD/var/nginx/$RASA_PORT
  "$PY" -m serving.nginx_conf --listen "${ANXIN_PROXY_HOST:-0.0.0.0}:$RASA_PORT" \
    "${backends[@]/#/--backend=}" --prefix "$nginx_dir"
  # Its error lines name the client's address and the request line: both are cut before
  # they reach the log (a WeChat query string holds the user's OpenID, an API path a
  # conversation id). There is no access log at all.
  "$ANXIN_NGINX" -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -e stderr \
    > >(sed -u -E -e 's/, client: [^,]+//' -e 's/, referrer: "[^"]*"//' -e 's#\?[^" ]*#?…#g' \
      -e 's#/conversations/[^/" ?]+#/conversations/…#g' >"$LOG_DIR/nginx.log") 2>&1 &
  pids+=($!) essential+=($!)
fi
"$PY" scripts/web_server.py --port "$WEB_PORT" --rasa-port "$RASA_PORT" >"$LOG_DIR/web.log" 2>&1 &
pids+=($!) essential+=($!)

echo "→ starting the action server (:$ACTIONS_PORT), Rasa (:$RASA_PORT) and the web chat (:$WEB_PORT); logs in $LOG_DIR/"
start=$(date +%s)
"$PY" scripts/wait_ready.py --timeout "${ANXIN_START_TIMEOUT:-300}" \
  "http://localhost:$ACTIONS_PORT/health" "${rasa_urls[@]}" "http://127.0.0.1:$WEB_PORT/health" \
  --pids "${pids[@]}" || { tail -n 30 "$LOG_DIR"/{rasa*,actions,web}.log ${nginx_dir:+"$LOG_DIR/nginx.log"}; exit 1; }
# nginx once the Rasa processes answer (asked before, it would log each refusal).
if [[ -n "${nginx_dir:-}" ]]; then
  "$PY" scripts/wait_ready.py --timeout 30 "http://localhost:$RASA_PORT/" --pids "${pids[@]}" \
    || { tail -n 30 "$LOG_DIR/nginx.log"; exit 1; }
fi
cat <<MSG
✓ 安心 is ready after $(( $(date +%s) - start )) s.
  Web chat:  http://localhost:$WEB_PORT/   (embeddable widget: http://localhost:$WEB_PORT/embed-demo.html)
  REST:      curl -s localhost:$RASA_PORT/webhooks/rest/webhook -d '{"sender":"me","message":"你好"}'
  Socket.IO: ws://localhost:$RASA_PORT/socket.io
  Terminal:  make shell  (in another terminal)
  Press Ctrl-C to stop.
MSG
if ((${#backends[@]})); then
  echo "  Scaled profile: ${#backends[@]} Rasa processes (:${backends[*]}) behind nginx on :$RASA_PORT;"
  echo "  conversations in PostgreSQL, locks in Redis ($ANXIN_ENDPOINTS)."
fi
wait -n "${essential[@]}"
echo "✗ a server stopped unexpectedly; see $LOG_DIR/" >&2
exit 1
