"""The pattern of the calls as one PNG: calls per day, and calls by hour of day.

- per day: every logged call counts (an entry "连打了四次" counts 4); the
  days on which ``incidents.rules.check`` finds "一天内联系次数过多" are drawn
  red, with the guideline's number (``incident_rules.too_many_attempts.max_per_day``
  in the knowledge file) as a dashed line;
- by hour: only entries with a clock time ("前天" has no hour); the night
  window of the knowledge file (``night_contact.window``, 22:00–08:00) is shaded.

matplotlib's Agg canvas, no pyplot (no global state, safe in threads), the
CJK font of ``evidence.fonts``.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

import knowledge
from evidence.fonts import cjk_font_path
from evidence.texts import messages
from incidents import rules

MAX_DAYS = 92  # the most recent three months, when the log is longer
NIGHT_COLOUR = "#2b3a55"
DAY_COLOUR = "#5b8def"
OVER_COLOUR = "#d64545"


def _get(item: Any, name: str, default: Any = None) -> Any:
    return item.get(name, default) if isinstance(item, dict) else getattr(item, name, default)


def _attempts(item: Any) -> int:
    try:
        return max(1, int(_get(item, "attempts", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _hour(text: str) -> int:
    return int(text.split(":")[0])


def render_chart(
    incidents: Iterable[Any],
    kb: knowledge.Knowledge | None = None,
    *,
    author_relation: str | None = None,
) -> bytes:
    """PNG bytes of the chart for these incidents (``store.Incident`` or dicts)."""
    kb = kb or knowledge.load()
    words = messages()["chart"]
    cfg = kb.incident_rules
    limit = int(cfg["too_many_attempts"]["max_per_day"])
    window = cfg["night_contact"]["window"]
    night_start, night_end = _hour(window["start"]), _hour(window["end"])
    items = [i for i in incidents if isinstance(_get(i, "occurred_at"), datetime)]
    over_days = {
        b.day for b in rules.check(items, kb, author_relation=author_relation) if b.key == "too_many_attempts" and b.day
    }

    per_day: Counter[date] = Counter()
    per_hour: Counter[int] = Counter()
    for item in items:
        occurred: datetime = _get(item, "occurred_at")
        per_day[occurred.date()] += _attempts(item)
        if (_get(item, "time_precision") or "minute") in ("minute", "hour"):
            per_hour[occurred.hour] += _attempts(item)

    font = FontProperties(fname=cjk_font_path())
    big = FontProperties(fname=cjk_font_path(), size=14)
    figure = Figure(figsize=(10, 8), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    days_axes, hours_axes = figure.subplots(2, 1)

    if per_day:
        first, last = min(per_day), max(per_day)
        first = max(first, last - timedelta(days=MAX_DAYS - 1))
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        counts = [per_day.get(d, 0) for d in days]
        colours = [OVER_COLOUR if d in over_days else DAY_COLOUR for d in days]
        days_axes.bar(range(len(days)), counts, color=colours, width=0.7)
        days_axes.set_xlim(-0.5, max(len(days), 7) - 0.5)
        step = max(1, len(days) // 15)
        days_axes.set_xticks(range(0, len(days), step))
        days_axes.set_xticklabels([f"{d.month}/{d.day}" for d in days[::step]], fontproperties=font)
        days_axes.axhline(limit, color=OVER_COLOUR, linestyle="--", linewidth=1)
        handles = [days_axes.lines[-1]]
        labels = [words["limit"].format(limit=limit)]
        if over_days & set(days):
            handles.append(days_axes.patches[[d in over_days for d in days].index(True)])
            labels.append(words["over_limit"])
        days_axes.legend(handles, labels, prop=font, loc="best")
    else:
        days_axes.text(0.5, 0.5, words["nothing"], ha="center", va="center", fontproperties=big,
                       transform=days_axes.transAxes)
        days_axes.set_xticks([])
    days_axes.set_title(words["title_days"], fontproperties=big)
    days_axes.set_ylabel(words["ylabel"], fontproperties=font)

    hours = list(range(24))
    at_night = [h >= night_start or h < night_end for h in hours]
    hours_axes.bar(
        hours,
        [per_hour.get(h, 0) for h in hours],
        color=[NIGHT_COLOUR if n else DAY_COLOUR for n in at_night],
    )
    shade = {"color": "#9aa5b8", "alpha": 0.25, "linewidth": 0}
    if night_start > night_end:  # the window crosses midnight
        hours_axes.axvspan(night_start - 0.5, 23.5, label=words["night"], **shade)
        hours_axes.axvspan(-0.5, night_end - 0.5, **shade)
    else:
        hours_axes.axvspan(night_start - 0.5, night_end - 0.5, label=words["night"], **shade)
    hours_axes.set_xlim(-0.5, 23.5)
    hours_axes.set_xticks(hours)
    hours_axes.set_xlabel(words["xlabel_hours"], fontproperties=font)
    hours_axes.set_ylabel(words["ylabel"], fontproperties=font)
    hours_axes.set_title(words["title_hours"], fontproperties=big)
    hours_axes.legend(prop=font, loc="upper center")
    if not per_hour:
        hours_axes.text(0.5, 0.5, words["nothing"], ha="center", va="center", fontproperties=big,
                        transform=hours_axes.transAxes)
    for axes in (days_axes, hours_axes):
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.set_ylim(0, max(1.0, axes.get_ylim()[1]))

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
