"""Check, before anything starts, that the databases a profile needs answer.

    python -m serving.preflight [--endpoints endpoints.scaled.yml] [--timeout 3]

Rasa's SQL tracker store waits for its database forever (it retries every
5 s and logs a warning), so a scaled profile started without PostgreSQL
would look like a hang. This checks, each within ``--timeout`` seconds:

- the tracker store of the endpoints file, when it is SQL on a server
  (SQLite needs nothing);
- its lock store, when it is Redis;
- ``ANXIN_INCIDENT_DB_URL`` (the action server's incident store), when it
  names a server;
- ``WECHAT_REDIS_URL`` and ``ANXIN_RATE_REDIS_URL``, when set.

It prints one clear line per failure and exits 1; otherwise exits 0
silently. ``python -m serving.server`` runs the endpoint checks too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT = 3.0
HINT = (
    "Start it, or point the settings at it (docs/operators.md, “Scaled profile”); "
    "`make run` (embedded profile) needs neither PostgreSQL nor Redis."
)


@dataclass(frozen=True)
class Check:
    what: str  # e.g. "tracker store (PostgreSQL)"
    kind: str  # "sql" or "redis"
    target: Any  # SQLAlchemy URL or redis keyword arguments
    shown: str  # the target without passwords


class PreflightError(Exception):
    pass


def _sql_url(config: Mapping[str, Any]) -> Any | None:
    """The SQLAlchemy URL of a ``tracker_store`` block, as Rasa's SQLTrackerStore builds it."""
    from sqlalchemy.engine import URL, make_url

    host = config.get("url") or config.get("host")
    if host and "://" in str(host):
        return make_url(str(host))
    dialect = str(config.get("dialect") or "sqlite")
    if dialect.startswith("sqlite"):
        return None
    port = config.get("port")
    return URL.create(
        dialect,
        username=config.get("username") or None,
        password=config.get("password") or None,
        host=str(host) if host else None,
        port=int(port) if port not in (None, "") else None,
        database=config.get("login_db") or config.get("db") or None,
        query=config.get("query") or {},
    )


def _redis_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    port = config.get("port")
    db = config.get("db")
    return {
        "host": str(config.get("url") or config.get("host") or "localhost"),
        "port": int(port) if port not in (None, "") else 6379,
        "db": int(db) if db not in (None, "") else 1,  # Rasa's RedisLockStore default
        "username": config.get("username") or None,
        "password": config.get("password") or None,
        "ssl": bool(config.get("use_ssl", False)),
    }


def _is_sql_store(config: Mapping[str, Any]) -> bool:
    kind = str(config.get("type") or "").lower()
    return kind == "sql" or kind.endswith("sqltrackerstore") or "dialect" in config


def checks_for_endpoints(endpoints: Mapping[str, Any]) -> list[Check]:
    found: list[Check] = []
    tracker = endpoints.get("tracker_store") or {}
    if isinstance(tracker, Mapping) and _is_sql_store(tracker):
        url = _sql_url(tracker)
        if url is not None:
            found.append(Check("tracker store", "sql", url, url.render_as_string(hide_password=True)))
    lock = endpoints.get("lock_store") or {}
    if isinstance(lock, Mapping) and str(lock.get("type") or "").lower() == "redis":
        kwargs = _redis_kwargs(lock)
        found.append(
            Check("lock store", "redis", kwargs, f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs['db']}")
        )
    return found


def checks_for_environment(env: Mapping[str, str]) -> list[Check]:
    from sqlalchemy.engine import make_url

    found: list[Check] = []
    incident_url = (env.get("ANXIN_INCIDENT_DB_URL") or "").strip()
    if incident_url and not incident_url.startswith("sqlite"):
        try:
            url = make_url(incident_url)
        except Exception as error:
            raise PreflightError(f"ANXIN_INCIDENT_DB_URL is not a database URL ({error})") from error
        found.append(
            Check(
                "incident store (ANXIN_INCIDENT_DB_URL)", "sql", url, url.render_as_string(hide_password=True)
            )
        )
    for name in ("WECHAT_REDIS_URL", "ANXIN_RATE_REDIS_URL"):
        value = (env.get(name) or "").strip()
        if value:
            found.append(Check(name, "redis-url", value, _hide_redis_password(value)))
    return found


def _hide_redis_password(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def read_endpoints(path: str) -> dict[str, Any]:
    """The endpoints file with ${VAR}s expanded, as Rasa reads it."""
    from rasa.shared.utils.io import read_config_file

    try:
        return read_config_file(path) or {}
    except FileNotFoundError as error:
        raise PreflightError(f"endpoints file {path} not found") from error
    except Exception as error:  # e.g. a ${VAR} that is not set
        raise PreflightError(f"cannot read {path}: {error}") from error


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:300] or type(error).__name__


def run_check(check: Check, timeout: float) -> str | None:
    """None when the target answers, else a one-line reason."""
    try:
        if check.kind == "sql":
            from sqlalchemy import create_engine, text

            connect_args = (
                {"connect_timeout": max(int(timeout), 1)}
                if check.target.get_backend_name().startswith("postgres")
                else {}
            )
            engine = create_engine(check.target, connect_args=connect_args, pool_pre_ping=False)
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            finally:
                engine.dispose()
        else:
            import redis

            if check.kind == "redis-url":
                client = redis.Redis.from_url(
                    check.target, socket_connect_timeout=timeout, socket_timeout=timeout
                )
            else:
                client = redis.Redis(**check.target, socket_connect_timeout=timeout, socket_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
    except Exception as error:
        return _reason(error)
    return None


def check(
    endpoints_path: str | None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    include_env: bool = True,
) -> list[str]:
    """Every failure as a printable line (empty: all good)."""
    env = os.environ if env is None else env
    try:
        checks = checks_for_endpoints(read_endpoints(endpoints_path)) if endpoints_path else []
        if include_env:
            checks += checks_for_environment(env)
    except PreflightError as error:
        return [f"✗ {error}"]
    failures = []
    for item in checks:
        reason = run_check(item, timeout)
        if reason:
            service = (
                "PostgreSQL"
                if item.kind == "sql" and "postgres" in item.shown
                else ("Redis" if "redis" in item.kind else "the database")
            )
            failures.append(f"✗ {service} for the {item.what} does not answer at {item.shown}: {reason}")
    if failures:
        failures.append(f"  {HINT}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", default=os.environ.get("ANXIN_ENDPOINTS", "endpoints.yml"))
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    args = parser.parse_args(argv)
    failures = check(args.endpoints, timeout=args.timeout)
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
