# Defaults of the scaled profile; scripts/run.sh sources this when
# ANXIN_PROFILE=scaled (`make run-scaled`). Every one can be set beforehand.
# shellcheck shell=bash

export ANXIN_ENDPOINTS=${ANXIN_ENDPOINTS:-endpoints.scaled.yml}
export ACTIONS_PORT=${ACTIONS_PORT:-5055}

# PostgreSQL: conversations (Rasa's tracker store) and the incident log.
export ANXIN_PG_URL=${ANXIN_PG_URL:-postgresql://postgres@127.0.0.1:5432/test}
export ANXIN_TRACKER_DB_URL=${ANXIN_TRACKER_DB_URL:-$ANXIN_PG_URL}
export ANXIN_INCIDENT_DB_URL=${ANXIN_INCIDENT_DB_URL:-$ANXIN_PG_URL}

# Redis: conversation locks, WeChat de-duplication and access token, rate limits.
export ANXIN_REDIS_HOST=${ANXIN_REDIS_HOST:-127.0.0.1}
export ANXIN_REDIS_PORT=${ANXIN_REDIS_PORT:-6379}
export ANXIN_REDIS_DB=${ANXIN_REDIS_DB:-0}
export ANXIN_REDIS_PREFIX=${ANXIN_REDIS_PREFIX:-anxin}  # letters and digits only (Rasa's rule)
export WECHAT_REDIS_URL=${WECHAT_REDIS_URL:-redis://$ANXIN_REDIS_HOST:$ANXIN_REDIS_PORT/$ANXIN_REDIS_DB}
export ANXIN_RATE_REDIS_URL=${ANXIN_RATE_REDIS_URL:-$WECHAT_REDIS_URL}
# A process killed while answering holds its conversation's lock this long (Rasa: 60 s).
export TICKET_LOCK_LIFETIME=${TICKET_LOCK_LIFETIME:-10}

# Rasa processes (loopback) behind nginx on RASA_PORT: one per core is the
# measured sweet spot on 2 cores (docs/operators.md, “Scaled profile”).
if [[ -z "${RASA_BACKEND_PORTS:-}" ]]; then
  RASA_BACKEND_PORTS=""
  for ((i = 1; i <= ${ANXIN_RASA_PROCESSES:-2}; i++)); do
    RASA_BACKEND_PORTS+="$((${RASA_PORT:-5005} + i)) "
  done
fi
export RASA_BACKEND_PORTS

# nginx in front of them (make setup-nginx installs Debian's), listening on
# ANXIN_PROXY_HOST:RASA_PORT (all addresses unless told otherwise).
if [[ -z "${ANXIN_NGINX:-}" ]]; then
  ANXIN_NGINX=/usr/sbin/nginx  # not on every user's PATH
  [[ -x $ANXIN_NGINX ]] || ANXIN_NGINX=$(command -v nginx 2>/dev/null || true)
fi
export ANXIN_NGINX
export ANXIN_PROXY_HOST=${ANXIN_PROXY_HOST:-0.0.0.0}
