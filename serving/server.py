"""Rasa's command line, for serving: ``python -m serving.server run ...``.

The same as ``python -m rasa run ...`` (every argument is passed through),
plus, for ``run``:

1. the preflight checks of serving/preflight.py on the ``--endpoints`` file,
   so an unreachable PostgreSQL or Redis is a clear error and exit code 2
   within seconds instead of Rasa retrying forever;
2. the run-time fixes of serving/patches.py (faster action calls, a polite
   reply when the action server fails, retried messages answered once);
3. with ``SANIC_WORKERS`` > 1 (the embedded profile: scripts/run.sh sets 2),
   serving/workers.py: the workers share what the main process imported, and
   a worker that dies is started again;
4. serving/sqlite_pool.py: the SQLite tracker store keeps its connections open.

scripts/run.sh starts Rasa this way, in both profiles.
"""

from __future__ import annotations

import os
import sys

PREFLIGHT_EXIT = 2


def _option(argv: list[str], name: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        from serving import preflight

        endpoints = _option(argv, "--endpoints") or "endpoints.yml"
        timeout = float(os.environ.get("ANXIN_PREFLIGHT_TIMEOUT", preflight.DEFAULT_TIMEOUT))
        failures = preflight.check(endpoints, timeout=timeout, include_env=False)
        if failures:
            for line in failures:
                print(line, file=sys.stderr, flush=True)
            return PREFLIGHT_EXIT

        from serving import patches, sqlite_pool, workers

        patches.install()
        sqlite_pool.install()
        workers.install()

    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *argv]
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
