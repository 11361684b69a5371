#!/usr/bin/env bash
# End-to-end conversation stories (tests/e2e) against the trained model, then
# the held-out NLU set. Rasa's verbose output goes to var/results/*.log; the
# failed stories, or a one-line summary, are printed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
MODEL=$(cat models/current)
mkdir -p var/results
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}

if ! "$PY" -m rasa test core --model "$MODEL" --stories tests/e2e --fail-on-prediction-errors \
    --out var/results/e2e >var/results/e2e.log 2>&1; then
  echo "✗ conversation stories failed:"
  cat var/results/e2e/failed_test_stories.yml 2>/dev/null || tail -n 40 var/results/e2e.log
  exit 1
fi
stories=$(grep -c '^- story:' tests/e2e/*.yml | awk -F: '{s+=$2} END {print s}')
echo "✓ $stories conversation stories passed"

"$PY" scripts/merge_heldout.py var/results/heldout.yml
"$PY" -m rasa test nlu --model "$MODEL" --nlu var/results/heldout.yml --out var/results/nlu-heldout \
  >var/results/nlu-heldout.log 2>&1 || { tail -n 40 var/results/nlu-heldout.log; exit 1; }
"$PY" - <<'PY'
import json
intent = json.load(open("var/results/nlu-heldout/intent_report.json"))
faq = json.load(open("var/results/nlu-heldout/response_selection_report.json"))
print(f"✓ held-out NLU: intent macro F1 {intent['macro avg']['f1-score']:.3f}, "
      f"accuracy {intent['accuracy']:.3f}; FAQ macro F1 {faq['macro avg']['f1-score']:.3f}")
PY
