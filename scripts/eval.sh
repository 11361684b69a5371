#!/usr/bin/env bash
# NLU evaluation (not part of `make test`: cross-validation retrains per fold).
# 1. cross-validation over data/nlu (FOLDS, default 3);
# 2. the held-out files (tests/nlu_heldout*.yml), never used in training;
# 3. tests/nlu_blind.yml, written by someone who never saw the training data.
# Writes per-intent precision/recall/F1 and confusion-matrix images to
# var/results/eval/, and prints macro F1.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore}
OUT=var/results/eval
mkdir -p "$OUT"
"$PY" scripts/merge_heldout.py "$OUT/heldout.yml"

echo "→ held-out set (tests/nlu_heldout*.yml)"
"$PY" -m rasa test nlu --model "$(cat models/current)" --nlu "$OUT/heldout.yml" --out "$OUT/heldout" \
  >"$OUT/heldout.log" 2>&1
echo "→ blind set (tests/nlu_blind.yml)"
"$PY" -m rasa test nlu --model "$(cat models/current)" --nlu tests/nlu_blind.yml --out "$OUT/blind" \
  >"$OUT/blind.log" 2>&1
echo "→ ${FOLDS:-3}-fold cross-validation on data/nlu (retrains each fold)"
"$PY" -m rasa test nlu --config config.yml --nlu data/nlu --cross-validation --folds "${FOLDS:-3}" \
  --out "$OUT/crossval" >"$OUT/crossval.log" 2>&1
"$PY" - <<'PY'
import json
from pathlib import Path
out = Path("var/results/eval")
def show(name, path):
    report = json.loads(path.read_text())
    macro = report["macro avg"]
    print(f"{name}: macro P {macro['precision']:.3f} R {macro['recall']:.3f} F1 {macro['f1-score']:.3f}")
    weak = {k: v for k, v in report.items() if isinstance(v, dict) and "f1-score" in v and k not in ("macro avg", "weighted avg", "micro avg") and v["f1-score"] < 0.9}
    for intent, v in sorted(weak.items(), key=lambda kv: kv[1]["f1-score"]):
        print(f"   {intent:34s} P {v['precision']:.2f} R {v['recall']:.2f} F1 {v['f1-score']:.2f}")
show("held-out intents", out / "heldout/intent_report.json")
show("held-out FAQ", out / "heldout/response_selection_report.json")
show("blind intents", out / "blind/intent_report.json")
show("blind FAQ", out / "blind/response_selection_report.json")
show("cross-validation intents", out / "crossval/intent_report.json")
print(f"confusion matrices: {out}/heldout/intent_confusion_matrix.png, {out}/crossval/intent_confusion_matrix.png")
PY
