#!/usr/bin/env bash
# Create .venv with Python 3.11 and install the pinned lock (requirements/lock.txt).
# Idempotent: does nothing when .venv already matches the lock.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
LOCK=requirements/lock.txt
STAMP="$VENV/.lock-sha256"
want=$(sha256sum "$LOCK" | cut -d' ' -f1)

# A font with Chinese characters: evidence charts (evidence/chart.py) and the
# screenshots the evidence tests draw need one. Silent when there is one; when
# it cannot be installed, say how, and go on (the tests then fail and say so).
has_cjk_font() {
  command -v fc-list >/dev/null 2>&1 && [[ -n "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]]
}
if ! has_cjk_font && [[ -z "${ANXIN_CJK_FONT:-}" ]]; then
  # shellcheck source=apt_install.sh
  source scripts/apt_install.sh  # (the working directory is the repository's root here)
  if command -v apt-get >/dev/null 2>&1; then
    apt_install "a Chinese font for evidence charts and their tests" fontconfig fonts-wqy-microhei ||
      echo "  (or point to a .ttf/.ttc/.otf with Chinese glyphs: ANXIN_CJK_FONT=/path/font.ttc)" >&2
  else
    echo "✗ no Chinese font found and no apt-get: install one (e.g. WenQuanYi Micro Hei or Noto Sans CJK)," \
      "or set ANXIN_CJK_FONT=/path/font.ttc" >&2
  fi
fi

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -x "$VENV/bin/rasa" ]]; then
  echo "✓ $VENV is up to date with $LOCK"
  exit 0
fi

# Rasa 3.6 runs on Python 3.11 with this lock (it was built and tested there).
find_python() {
  local candidates=("${PYTHON:-}" python3.11 python3 python)
  for py in "${candidates[@]}"; do
    [[ -n "$py" ]] || continue
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      command -v "$py"
      return 0
    fi
  done
  return 1
}

if ! PY=$(find_python); then
  cat >&2 <<MSG
✗ Python 3.11 with the venv module is needed, and none was found.
  Tried: \$PYTHON, python3.11, python3, python.
  On Debian/Ubuntu:  sudo apt-get install python3.11 python3.11-venv
  Or point to one:   PYTHON=/path/to/python3.11 make setup
MSG
  exit 1
fi

if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  # The lock changed: pip installs only what differs, so running servers keep working.
  echo "→ [1/3] updating $VENV to the changed lock"
else
  echo "→ [1/3] creating $VENV with $PY ($("$PY" --version))"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24"

echo "→ [2/3] installing the pinned lock (about 1 GB on a cold pip cache; a few minutes)"
# --no-deps: the lock is complete. --ignore-requires-python: rasa 3.6.21 and
# rasa-sdk 3.6.2 declare <3.11 but run on 3.11 (tested by `make test`).
"$VENV/bin/python" -m pip install --no-deps --ignore-requires-python \
  --progress-bar on -r "$LOCK"

echo "→ [3/3] checking the install"
"$VENV/bin/python" - <<'PY'
import importlib
for name in ("rasa", "rasa_sdk", "spacy", "jieba", "opencc", "wechatpy", "jinja2", "docx", "pytest", "playwright",
             "cv2", "onnxruntime", "rapidocr_onnxruntime"):
    importlib.import_module(name)
import rasa, rasa_sdk, spacy
print(f"  rasa {rasa.__version__}, rasa-sdk {rasa_sdk.__version__}, spacy {spacy.__version__}")
PY
echo "$want" > "$STAMP"
echo "✓ setup done"
