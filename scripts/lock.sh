#!/usr/bin/env bash
# Regenerate requirements/lock.txt in a scratch venv, following the recipe
# that works for Rasa 3.6.21 on Python 3.11:
#  1. Rasa's own dependencies (as declared for Python 3.10) and ours, resolved
#     normally (never --ignore-requires-python here: pip would pick releases
#     that need Python 3.12);
#  2. rasa and rasa-sdk themselves with --no-deps --ignore-requires-python, and
#     rapidocr-onnxruntime with --no-deps.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q -U pip 'setuptools>=70.3,<70.4' wheel
"$tmp/venv/bin/pip" install -r requirements/rasa-deps.in -r requirements/project.in
"$tmp/venv/bin/pip" install --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
# OCR (evidence/ocr.py): without its opencv-python (libGL) requirement; project.in has the headless one.
"$tmp/venv/bin/pip" install --no-deps rapidocr-onnxruntime==1.4.4
{
  sed -n '1,/^$/p' requirements/lock.txt | grep '^#'
  "$tmp/venv/bin/pip" freeze --all | grep -v '^pip=='
} > requirements/lock.txt.new
mv requirements/lock.txt.new requirements/lock.txt
echo "✓ requirements/lock.txt regenerated"
