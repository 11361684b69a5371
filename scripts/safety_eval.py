"""Recall and false alarms of the safety layer, per kind of danger.

    python scripts/safety_eval.py                 # the detector (patterns) alone
    python scripts/safety_eval.py --model PATH    # the whole NLU, as users get it

Reads the project's safety sets in tests/safety/*.yml (dangers by kind, and
hard negatives). A danger counts as caught when the message becomes a safety
message of any kind; the kind is reported too (the reply differs: 12356 for
the user's own despair, 120/110 first for someone else, 110 for a threat).
Prints the misses and false alarms, then one summary line. Exit code 1 when
recall is under 100 % or false alarms over 2 % (the targets of issue #12).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor import safety  # noqa: E402

SETS = sorted((ROOT / "tests" / "safety").glob("*.yml"))
MAX_FALSE_ALARMS = 0.02


def load(paths: list[Path]) -> tuple[list[tuple[str, str]], list[str]]:
    dangers, negatives = [], []
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for kind, texts in (data.get("dangers") or {}).items():
            dangers += [(kind, str(t)) for t in texts or []]
        negatives += [str(t) for t in data.get("negatives") or []]
    return dangers, negatives


def detector_kinds(texts: list[str]) -> list[str | None]:
    found = [safety.detect(t) for t in texts]
    return [d.kind if d else None for d in found]


def model_kinds(model: str, texts: list[str]) -> list[str | None]:
    import logging

    logging.disable(logging.INFO)  # Rasa logs every parse at DEBUG; only numbers here
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    async def parse_all() -> list[str | None]:
        kinds = []
        for text in texts:
            parsed = await agent.parse_message(text)
            kinds.append(safety.KIND_OF_INTENT.get((parsed.get("intent") or {}).get("name")))
        return kinds

    return asyncio.run(parse_all())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained model: measure the whole NLU instead of the patterns")
    parser.add_argument("--set", action="append", type=Path, help="a safety set (default: tests/safety/*.yml)")
    parser.add_argument("--quiet", action="store_true", help="only the numbers")
    args = parser.parse_args()
    dangers, negatives = load(args.set or SETS)
    texts = [t for _, t in dangers] + negatives
    kinds = model_kinds(args.model, texts) if args.model else detector_kinds(texts)
    got_dangers, got_negatives = kinds[: len(dangers)], kinds[len(dangers) :]

    print(f"safety layer ({'model ' + Path(args.model).name if args.model else 'patterns'}) on {len(SETS if not args.set else args.set)} set(s)")
    missed = 0
    for kind in safety.KINDS:
        rows = [(t, got) for (k, t), got in zip(dangers, got_dangers, strict=True) if k == kind]
        caught = sum(got is not None for _, got in rows)
        right = sum(got == kind for _, got in rows)
        missed += len(rows) - caught
        print(f"  {kind:13s} recall {caught:4d}/{len(rows):<4d} {100 * caught / max(len(rows), 1):5.1f} %"
              f"   right kind {100 * right / max(len(rows), 1):5.1f} %")
        if not args.quiet:
            for text, got in rows:
                if got is None:
                    print(f"      MISSED  {text}")
    alarms = [(t, got) for t, got in zip(negatives, got_negatives, strict=True) if got is not None]
    rate = len(alarms) / max(len(negatives), 1)
    print(f"  {'negatives':13s} false alarms {len(alarms):3d}/{len(negatives):<4d} {100 * rate:5.1f} %")
    if not args.quiet:
        for text, got in alarms:
            print(f"      ALARM ({got})  {text}")
    recall = 1 - missed / max(len(dangers), 1)
    print(f"recall {100 * recall:.1f} % ({len(dangers) - missed}/{len(dangers)}), false alarms {100 * rate:.1f} %")
    return 0 if missed == 0 and rate <= MAX_FALSE_ALARMS else 1


if __name__ == "__main__":
    sys.exit(main())
