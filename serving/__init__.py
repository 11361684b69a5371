"""Serving 安心 at scale: Rasa start-up wrapper with run-time fixes, preflight
checks of PostgreSQL/Redis, and the nginx configuration in front of several
Rasa processes (the scaled profile, `make run-scaled`)."""
