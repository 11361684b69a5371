#!/usr/bin/env bash
# Make sure a Chromium for the browser tests (tests/browser) is on this machine:
# Debian's `chromium` package plus a font with Chinese characters. Playwright
# (in the lock) drives it; Playwright's own browser downloads are never used.
# Also fetches, once, the standard Rasa web widget `rasa-webchat` (pinned) from the npm
# registry into the cache, for tests/browser/test_rasa_webchat.py (fetch_rasa_webchat.sh).
# Idempotent: does nothing when all are there.
set -euo pipefail
# shellcheck source=apt_install.sh
source "$(dirname "$0")/apt_install.sh"

if bundle=$("$(dirname "$0")/fetch_rasa_webchat.sh"); then
  echo "✓ rasa-webchat for the widget test: $bundle"
else
  echo "  (without it, tests/browser/test_rasa_webchat.py tries again, then skips; CI fails)" >&2
fi

CHROMIUM=${ANXIN_CHROMIUM:-}
find_chromium() {
  local c
  for c in "$CHROMIUM" /usr/bin/chromium /usr/bin/chromium-browser; do
    [[ -n "$c" && -x "$c" ]] && { echo "$c"; return 0; }
  done
  command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null || return 1
}
has_cjk_font() {
  command -v fc-list >/dev/null 2>&1 && [[ -n "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]]
}

packages=()
find_chromium >/dev/null || packages+=(chromium)
has_cjk_font || packages+=(fonts-wqy-microhei)

if ((${#packages[@]} == 0)); then
  echo "✓ browser for the web chat tests: $(find_chromium) ($("$(find_chromium)" --version 2>/dev/null | head -n 1))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<MSG
✗ The browser tests need Chromium (${packages[*]}), and apt-get is not available here.
  Install Chromium with your system's package manager, or point to one:
    ANXIN_CHROMIUM=/path/to/chromium make test
  (Without a browser, 'make browser' skips its tests and says why; CI must have one.)
MSG
  exit 0
fi

apt_install "for the browser tests" "${packages[@]}" || exit 0
chromium=$(find_chromium) || { echo "✗ chromium installed but not found on PATH" >&2; exit 0; }
echo "✓ $chromium ($("$chromium" --version 2>/dev/null | head -n 1))"
