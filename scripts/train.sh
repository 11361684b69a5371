#!/usr/bin/env bash
# Train only when something the model depends on changed.
# The model is named after the fingerprint of its inputs and also kept in a
# cache outside the work tree (ANXIN_CACHE, default ~/.cache/anxin), so a
# fresh clone (CI) reuses a model trained from identical inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
export RASA_TELEMETRY_ENABLED=false SQLALCHEMY_SILENCE_UBER_WARNING=1
# No Rasa training cache: its keys name the spaCy pipeline by path, not by
# content, so a model could depend on what an earlier training left behind.
# Every model is then what its inputs (the fingerprint) alone give.
export RASA_MAX_CACHE_SIZE=0
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore::DeprecationWarning,ignore::PendingDeprecationWarning} TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
CACHE=${ANXIN_CACHE:-$HOME/.cache/anxin}/models

"$PY" scripts/build_domain_responses.py >/dev/null
"$PY" -m nlu.spacy_pipeline >/dev/null

fp=$("$PY" scripts/fingerprint.py)
name="anxin-$fp"
mkdir -p models "$CACHE"
if [[ -f "models/$name.tar.gz" ]]; then
  echo "✓ model models/$name.tar.gz is up to date"
elif [[ -f "$CACHE/$name.tar.gz" ]]; then
  cp "$CACHE/$name.tar.gz" "models/$name.tar.gz"
  echo "✓ model $name taken from the cache ($CACHE)"
else
  echo "→ training $name (a few minutes on 2 cores)"
  start=$(date +%s)
  # Training uses every core (the Makefile pins TensorFlow to one thread for
  # serving, where the workers share the cores): 0 lets TensorFlow choose.
  TF_INTRA_OP_PARALLELISM_THREADS=0 TF_INTER_OP_PARALLELISM_THREADS=0 \
    "$PY" -m rasa train --domain domain --fixed-model-name "$name" --out models --quiet
  echo "✓ trained in $(( $(date +%s) - start )) s"
  cp "models/$name.tar.gz" "$CACHE/$name.tar.gz"
fi
# Keep the newest three models; `models/current` names the one to serve.
ls -1t models/anxin-*.tar.gz 2>/dev/null | tail -n +4 | xargs -r rm -f
echo "models/$name.tar.gz" > models/current
