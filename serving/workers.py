"""Several Sanic workers on one port, for the embedded profile (both cores, no Redis).

Rasa runs ``SANIC_WORKERS`` worker processes when its lock store works across
processes (serving/lock_store.py: ``FileLockStore``). Sanic 21.12 forks them
from the main process, which then only waits. Two things are added here
(``install()``, called by serving/server.py):

- **Shared imports.** Before forking, the main process imports what the model
  needs (TensorFlow, Rasa's components, spaCy, jieba and its dictionary with
  the domain words, OpenCC) and freezes those objects out of garbage
  collection, so the workers share those pages instead of each holding a copy.
  The model itself is loaded in each worker: TensorFlow cannot be used in a
  process forked after it ran (tried: the child hangs on its first op).
- **A worker that dies is started again** (Sanic's own runner only waits for
  them): the others keep answering meanwhile, and the new one takes
  requests once its model is loaded (~30 s). At most ``MAX_RESTARTS`` a
  minute, then the main process stops with an error (scripts/run.sh then
  stops the profile).

Everything a worker keeps that matters beyond one request is shared through
the machine, not the process: conversations (SQLite tracker store), locks
(``FileLockStore``), WeChat de-duplication and the access token, and the rate
limit (``ANXIN_STATE_DB``: channels/wechat_dedupe.py, channels/ratelimit.py).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import time
from multiprocessing.connection import wait
from signal import SIG_DFL, SIGINT, SIGTERM, Signals
from signal import signal as signal_func

logger = logging.getLogger(__name__)

MAX_RESTARTS = 5  # a minute
_installed = False


def workers_wanted(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    try:
        return max(1, int(env.get("SANIC_WORKERS", "1") or 1))
    except ValueError:
        return 1


def preload() -> None:
    """Import (and initialise) in this process what every worker's model needs, without
    running TensorFlow; then keep those objects out of the garbage collector's way."""
    import jieba
    import rasa.core.agent  # noqa: F401
    import rasa.engine.recipes.default_components  # noqa: F401

    try:
        import dialogue.safety_policy  # noqa: F401
        import nlu.components  # noqa: F401
        from nlu import segmentation, text

        jieba.initialize()
        segmentation.ensure_domain_words()
        text._t2s()
    except Exception as error:  # a worker loads them itself then
        logger.warning("serving.workers.preload_incomplete error=%s", type(error).__name__)
    gc.collect()
    gc.freeze()


def _worker(serve, **server_settings) -> None:  # type: ignore[no-untyped-def]
    """One worker: dies with the main process (a main process killed hard must not leave
    workers holding the port), then Sanic's ``serve``."""
    # The main process's handlers are not the worker's: until Sanic installs its own (once
    # the model is loaded), SIGTERM/SIGINT simply end it.
    signal_func(SIGINT, SIG_DFL)
    signal_func(SIGTERM, SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the main process stops them itself
        pass
    serve(**server_settings)


def serve_multiple(server_settings: dict, workers: int) -> None:
    """Sanic 21.12's ``serve_multiple``, restarting a worker that exits while the server runs."""
    from sanic.server.events import trigger_events
    from sanic.server.runners import serve
    from sanic.server.socket import bind_socket, bind_unix_socket, remove_unix_socket

    server_settings["reuse_port"] = True
    server_settings["run_multiple"] = True
    main_start = server_settings.pop("main_start", None)
    main_stop = server_settings.pop("main_stop", None)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    trigger_events(main_start, loop)

    sock = server_settings.get("sock")
    unix = server_settings["unix"]
    backlog = server_settings["backlog"]
    if unix:
        sock = bind_unix_socket(unix, backlog=backlog)
        server_settings["unix"] = unix
    if sock is None:
        sock = bind_socket(server_settings["host"], server_settings["port"], backlog=backlog)
        sock.set_inheritable(True)
        server_settings["sock"] = sock
        server_settings["host"] = None
        server_settings["port"] = None

    context = multiprocessing.get_context("fork")
    processes: list[multiprocessing.Process] = []
    stopping = False

    def start() -> multiprocessing.Process:
        process = context.Process(target=_worker, args=(serve,), kwargs=server_settings)
        process.daemon = True
        process.start()
        return process

    def stop(signum, _frame) -> None:  # type: ignore[no-untyped-def]
        nonlocal stopping
        logger.info("Received signal %s. Shutting down.", Signals(signum).name)
        stopping = True
        for process in processes:
            if process.is_alive():
                os.kill(process.pid, SIGTERM)

    signal_func(SIGINT, stop)
    signal_func(SIGTERM, stop)
    processes.extend(start() for _ in range(workers))
    restarts: list[float] = []
    while not stopping:
        wait([p.sentinel for p in processes], timeout=1.0)
        for index, process in enumerate(processes):
            if stopping or process.is_alive():
                continue
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < 60] + [now]
            if len(restarts) > MAX_RESTARTS:
                logger.error("serving.workers.crash_loop exits=%d in a minute; stopping", len(restarts))
                stop(SIGTERM, None)
                break
            logger.warning(
                "serving.workers.restart pid=%s exitcode=%s; starting a new worker", process.pid, process.exitcode
            )
            processes[index] = start()
    for process in processes:
        process.join()
    for process in processes:
        process.terminate()
    trigger_events(main_stop, loop)
    sock.close()
    loop.close()
    remove_unix_socket(unix)


def install() -> None:
    """With ``SANIC_WORKERS`` > 1: the shared imports now, and the restarting runner."""
    global _installed
    if _installed or workers_wanted() < 2:
        return
    import sanic.app

    if not hasattr(sanic.app, "serve_multiple"):
        raise RuntimeError("sanic.app.serve_multiple is gone: serving/workers.py needs updating")
    preload()
    sanic.app.serve_multiple = serve_multiple
    _installed = True
