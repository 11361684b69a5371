"""Serving 安心 at scale: Rasa start-up wrapper with run-time fixes, preflight
checks of PostgreSQL/Redis, and a small reverse proxy for several Rasa
processes (the scaled profile, `make run-scaled`)."""
