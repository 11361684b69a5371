"""The action server: rasa_sdk's app, callable only by our Rasa server.

    python -m actions.server [--port 5055] [--host 127.0.0.1]

Differences from ``python -m rasa_sdk --actions actions``:

- every request but ``GET /health`` must carry the shared secret in the
  ``X-Anxin-Action-Secret`` header (Rasa sends it: ``headers`` of the
  ``action_endpoint`` in endpoints.yml, ``${ANXIN_ACTION_SECRET}``); others get 403.
  Without ``ANXIN_ACTION_SECRET`` the server does not start (scripts/run.sh
  makes a random one per run when it is not set);
- it listens on loopback unless ``ANXIN_ACTIONS_HOST`` (or ``--host``) says otherwise;
- no CORS: no browser page has any business calling it;
- personal data is masked in its logs (privacy/logs.py).

This module is a server entry, not an action: actions/__init__.py does not import it.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys

from sanic import Sanic, response
from sanic.request import Request

from privacy import logs as privacy_logs

logger = logging.getLogger("actions.server")  # also when run as __main__

SECRET_HEADER = "X-Anxin-Action-Secret"
SECRET_ENV = "ANXIN_ACTION_SECRET"
OPEN_PATHS = frozenset({"/health"})
MIN_SECRET_CHARS = 16


def secret_ok(expected: str, supplied: str | None) -> bool:
    if not expected or not supplied:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), supplied.encode("utf-8", errors="replace"))


def create_app(secret: str, actions_package: str = "actions") -> Sanic:
    """rasa_sdk's app for ``actions_package``, refusing calls without ``secret``."""
    from rasa_sdk.endpoint import create_app as create_sdk_app

    if not secret:
        raise ValueError(f"{SECRET_ENV} is empty")
    app = create_sdk_app(actions_package, cors_origins=None)

    @app.middleware("request")
    async def require_secret(request: Request):
        if request.path in OPEN_PATHS and request.method in ("GET", "HEAD"):
            return None
        if not secret_ok(secret, request.headers.get(SECRET_HEADER)):
            logger.warning("actions.refused path=%s reason=secret", request.path)
            return response.json({"error": "forbidden"}, status=403)
        return None

    return app


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m actions.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("ACTIONS_PORT", "5055")))
    parser.add_argument(
        "--host",
        default=os.environ.get("ANXIN_ACTIONS_HOST", "127.0.0.1"),
        help="interface to listen on (default 127.0.0.1; env ANXIN_ACTIONS_HOST)",
    )
    parser.add_argument("--actions", default="actions", help="package of the actions (default: actions)")
    parser.add_argument("-v", "--verbose", action="store_const", const="INFO", dest="loglevel")
    parser.add_argument("-vv", "--debug", action="store_const", const="DEBUG", dest="loglevel")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "").strip()
    if not secret:
        print(
            f"✗ {SECRET_ENV} is not set. The action server only answers the Rasa server, which\n"
            f"  sends the same value (endpoints.yml). scripts/run.sh makes one per run; by hand:\n"
            f"  export {SECRET_ENV}=$(python -c 'import secrets; print(secrets.token_hex(16))')",
            file=sys.stderr,
        )
        return 2

    privacy_logs.install()  # before anything logs
    from rasa_sdk import utils as sdk_utils
    from rasa_sdk.plugin import plugin_manager

    loglevel = args.loglevel or os.environ.get("LOG_LEVEL", "INFO")
    sdk_utils.configure_colored_logging(loglevel)
    sdk_utils.update_sanic_log_level()
    if len(secret) < MIN_SECRET_CHARS:
        logger.warning("actions.secret.short chars=%d; use at least %d", len(secret), MIN_SECRET_CHARS)

    app = create_app(secret, args.actions)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    logger.info("Action server (secret required) on http://%s:%d", args.host, args.port)
    app.run(args.host, args.port, workers=sdk_utils.number_of_sanic_workers(), access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
