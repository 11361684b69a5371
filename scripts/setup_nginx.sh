#!/usr/bin/env bash
# Make sure Debian's nginx is on this machine for the scaled profile (make run-scaled,
# make faults, make bench-load): it stands in front of the Rasa processes, started by
# scripts/run.sh as the current user with a configuration of its own (serving/nginx.conf.template).
# Debian's own nginx service is never used. Idempotent: does nothing when nginx is there.
set -euo pipefail
# shellcheck source=apt_install.sh
source "$(dirname "$0")/apt_install.sh"

# Where nginx is, or nothing: ANXIN_NGINX, then /usr/sbin (often not on a user's PATH), then PATH.
find_nginx() {
  local c
  for c in "${ANXIN_NGINX:-}" /usr/sbin/nginx; do
    [[ -n "$c" && -x "$c" ]] && { echo "$c"; return 0; }
  done
  command -v nginx 2>/dev/null
}

if nginx=$(find_nginx); then
  echo "✓ nginx for the scaled profile: $nginx ($("$nginx" -v 2>&1 | sed 's/^nginx version: //'))"
  exit 0
fi

# Without nginx, scripts/run.sh refuses the scaled profile and the fault tests skip, each
# saying why (CI fails instead); this script only says what to do.
if ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<'MSG'
✗ The scaled profile needs nginx (1.19.5 or newer), and apt-get is not available here.
  Install nginx with your system's package manager, or point to one:
    ANXIN_NGINX=/path/to/nginx make run-scaled
MSG
  exit 0
fi

apt_install "for the scaled profile" nginx || exit 0
nginx=$(find_nginx) || { echo "✗ nginx installed but not found (try ANXIN_NGINX=/usr/sbin/nginx)" >&2; exit 0; }
echo "✓ $nginx ($("$nginx" -v 2>&1 | sed 's/^nginx version: //'))"
# Where the package started Debian's own service (port 80, not ours), say so.
if [[ -s /run/nginx.pid ]]; then
  echo "  note: Debian also started its own nginx service on :80; the scaled profile does not use it" \
    "(stop it with: sudo systemctl disable --now nginx)"
fi
