"""Where a message's CPU time goes inside Rasa. Not a test.

Loads the current model in this process (with serving/patches.py and
serving/sqlite_pool.py, as the server runs it), talks to a running action
server, plays conversations one message at a time, and prints the CPU milliseconds per message spent in each
NLU component, each policy, the tracker store, custom-action calls and the
rest of Rasa. CPU time (not wall time), so other load on the machine skews it
little; no profiler overhead (only the listed functions are timed).

    python -m actions.server --port 5355 &            # with ANXIN_ACTION_SECRET set
    python scripts/profile_turns.py --actions-url http://127.0.0.1:5355/webhook
    python scripts/profile_turns.py --no-patches ...   # Rasa as shipped, to compare
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import logging
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TURNS = [
    "你好",
    "我儿子在借呗借了钱，催收天天半夜打电话骚扰",
    "没有还清",
    "那我可以去哪里投诉",
    "家里人要替他还钱吗",
    "不还钱会坐牢吗",
    "谢谢",
]

spent: dict[str, float] = defaultdict(float)
_active: list[str] = []


def timed(owner: type, name: str, label: str) -> None:
    """Count CPU time spent in ``owner.name`` under ``label`` (outermost timed call only)."""
    original = inspect.getattr_static(owner, name)
    wrapped_static = isinstance(original, staticmethod)
    function = original.__func__ if wrapped_static else original

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def wrapper(*args, **kwargs):
            if _active:
                return await function(*args, **kwargs)
            _active.append(label)
            start = time.process_time()
            try:
                return await function(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - start
                _active.pop()

    else:

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if _active:
                return function(*args, **kwargs)
            _active.append(label)
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - start
                _active.pop()

    setattr(owner, name, staticmethod(wrapper) if wrapped_static else wrapper)


def instrument() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
    from rasa.nlu.selectors.response_selector import ResponseSelector
    from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
    from rasa.nlu.utils.spacy_utils import SpacyNLP

    from nlu.components import ChineseTextNormalizer, KnowledgeEntityExtractor

    # RulePolicy is a MemoizationPolicy: time the subclass's own method first.
    for owner, name, label in [
        (ChineseTextNormalizer, "process", "nlu: ChineseTextNormalizer (OpenCC)"),
        (SpacyNLP, "process", "nlu: SpacyNLP (spaCy + jieba)"),
        (SpacyTokenizer, "process", "nlu: SpacyTokenizer"),
        (KnowledgeEntityExtractor, "process", "nlu: KnowledgeEntityExtractor"),
        (RegexFeaturizer, "process", "nlu: RegexFeaturizer"),
        (CountVectorsFeaturizer, "process", "nlu: CountVectorsFeaturizer (words + char 1-3)"),
        (DIETClassifier, "process", "nlu: DIETClassifier"),
        (ResponseSelector, "process", "nlu: ResponseSelector"),
        (FallbackClassifier, "process", "nlu: FallbackClassifier"),
        (RulePolicy, "predict_action_probabilities", "policy: RulePolicy"),
        (MemoizationPolicy, "predict_action_probabilities", "policy: MemoizationPolicy"),
        (SQLTrackerStore, "retrieve", "tracker store: read"),
        (SQLTrackerStore, "save", "tracker store: write"),
        (RemoteAction, "run", "custom actions: call (Rasa side)"),
    ]:
        timed(owner, name, label)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions-url", default="http://127.0.0.1:5355/webhook")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--no-patches", action="store_true", help="Rasa without serving/patches.py")
    args = parser.parse_args()

    from rasa.utils.log_utils import configure_structlog

    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.WARNING)
    if not args.no_patches:
        from serving import patches, sqlite_pool

        patches.install()
        sqlite_pool.install()  # as serving/server.py does
    instrument()

    import rasa.core.agent as _agent_module
    load_agent = _agent_module.load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.utils.endpoints import EndpointConfig

    tmp = Path(tempfile.mkdtemp())
    from rasa.core.utils import AvailableEndpoints

    secret = os.environ.get("ANXIN_ACTION_SECRET", "")
    endpoints = AvailableEndpoints(
        action=EndpointConfig(args.actions_url, headers={"X-Anxin-Action-Secret": secret}),
        tracker_store=EndpointConfig(type="SQL", dialect="sqlite", db=str(tmp / "tracker.db")),
    )
    model = (ROOT / "models" / "current").read_text().strip()
    agent = await load_agent(model_path=str(ROOT / model), endpoints=endpoints)

    async def conversation() -> None:
        sender = uuid.uuid4().hex
        for text in TURNS:
            await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))

    await conversation()  # warm-up
    spent.clear()
    messages = args.conversations * len(TURNS)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.conversations):
        await conversation()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{messages} messages, one at a time; Rasa {'without' if args.no_patches else 'with'} serving/patches.py")
    print(f"  CPU per message: {cpu / messages * 1000:.1f} ms (wall {wall / messages * 1000:.1f} ms)")
    rest = cpu - sum(spent.values())
    for label, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds / messages * 1000:6.2f} ms  {seconds / cpu * 100:4.0f}%  {label}")
    print(f"  {rest / messages * 1000:6.2f} ms  {rest / cpu * 100:4.0f}%  everything else (graph runner, processor, forms, events)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
