"""Incident log: plain-Python domain layer (no Rasa imports).

- ``timeparse``: Chinese time expressions ("昨晚十点半", "11月20日22:40") → datetime;
- ``phones``: phone numbers normalised, masked and found in free text;
- ``store``: the per-user incident and submission store (SQLAlchemy 1.4);
- ``rules``: which collection rules a log breaks, and a short timeline.

Datetimes are naive Asia/Shanghai local time throughout (China has no DST).
"""
