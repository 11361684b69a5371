"""privacy/logs.py hooked into logging as `rasa run --logging-config-file
privacy/logging.yml` does it: Rasa's stdlib logs, its structlog events (JSON,
Chinese escaped), Sanic's access log with query strings, warnings and an
uncaught exception all come out masked. Run in a child process, so this test
session's logging stays as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import logging, logging.config, warnings
    import structlog
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.io import configure_colored_logging
    from rasa.utils.log_utils import configure_structlog
    from sanic.log import LOGGING_CONFIG_DEFAULTS

    # The order of rasa/__main__.py: logging config file, colored logs, structlog.
    configure_logging_and_warnings(logging.DEBUG, "privacy/logging.yml")
    configure_colored_logging(logging.DEBUG)
    configure_structlog(logging.DEBUG)
    log = structlog.get_logger()
    # Before the channels start: only the line-level masking is in place.
    log.debug("processor.message.parse", parse_data_text="我叫王小明 13812345678")
    from privacy import logs
    logs.install()  # what the channels do (channels/guard.py)
    log.error("rest.message.received.failure", text="姓名：欧阳娜娜 身份证11010119900307123X")
    try:
        raise ValueError("bad card 6222021234567890")
    except ValueError:
        log.exception("rest.message.received.failure", text="我是李建国")
    logging.getLogger("rasa.core.processor").debug("Received user message '%s'", "电话 +86 139-1234-5678")
    logging.config.dictConfig(LOGGING_CONFIG_DEFAULTS)  # as Sanic does when Rasa creates its app
    logging.getLogger("sanic.access").info("", extra={
        "request": "GET http://h/webhooks/wechat/webhook?openid=o-13700001234&token=TOPSECRET",
        "status": 200, "byte": 7, "host": "127.0.0.1:1"})
    warnings.warn("about 13700001111")
    raise RuntimeError("uncaught 15800001111 我叫赵六")
    """
)

SECRETS = [
    "王小明", "13812345678", "欧阳娜娜", "11010119900307123X", "6222021234567890", "李建国",
    "139-1234-5678", "13700001234", "TOPSECRET", "13700001111", "15800001111", "赵六",
]  # fmt: skip


def test_every_path_a_log_line_takes_is_masked():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL_LIBRARIES": "DEBUG", "FORCE_JSON_LOGGING": "1"}
    run = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    output = (run.stdout + run.stderr).decode("utf-8", errors="replace")
    assert run.returncode == 1 and "uncaught <phone> 我叫<name>" in output, output[-3000:]
    for secret in SECRETS:
        for form in {secret, json.dumps(secret)[1:-1]}:
            assert form not in output, (secret, output[-3000:])
    for evidence in (
        "processor.message.parse",
        "我叫<name> <phone>",  # structlog JSON, unescaped and masked by the line masker
        "姓名：<name> 身份证<id>",  # masked by the structlog processor
        "bad card <card>",  # the traceback
        "我是<name>",
        "Received user message '电话 <phone>'",
        "openid=***&token=***",  # Sanic's access log
        "about <phone>",  # a warning
    ):
        assert evidence in output, (evidence, output[-3000:])
