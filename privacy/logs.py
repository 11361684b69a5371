"""Personal data masked in every log line of the Rasa server and the action server.

``install()`` (idempotent) puts ``privacy.masking`` into each path a log line
can take in these processes:

- **logging's record factory**: every ``LogRecord`` of any logger (Rasa, Sanic,
  rasa_sdk, our code, and structlog, which hands its rendered JSON to
  logging) is created with its message, exception text and stack masked;
- **``MaskingFilter``** on Sanic's loggers: the access log keeps the request
  line, with its query string, in an extra field the factory cannot see;
- **a structlog processor**, first in the chain: Rasa's events (e.g.
  ``rest.message.received.failure``, which logs the message text) are masked
  before rendering; ``install_structlog()`` adds it once structlog is configured;
- warnings go through logging, and uncaught exceptions print masked tracebacks.

The Rasa server loads this through ``--logging-config-file privacy/logging.yml``
(see scripts/run.sh) and again, for structlog, when our channels start; the
action server (``actions/server.py``) calls ``install()`` itself.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import MutableMapping
from typing import Any

from privacy.masking import mask_log_text, mask_value

_MASKED = "_anxin_masked"
_STANDARD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
# structlog keys that are not text to mask (exception info is rendered later and masked as a line).
_STRUCTLOG_KEEP = frozenset({"exc_info", "stack_info", "exception", "timestamp", "level", "logger", "_record"})
_SANIC_LOGGERS = ("sanic.access", "sanic.root", "sanic.error")
_lock = threading.Lock()
_installed = False


def _format_exception(exc_info: Any) -> str:
    try:
        return logging.Formatter().formatException(exc_info)
    except Exception:
        return "<traceback unavailable>"


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask ``record`` in place: message (with its args), exception, stack and extra fields."""
    if not getattr(record, _MASKED, False):
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep both, masked
            message = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = mask_log_text(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _format_exception(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_log_text(record.stack_info)
        setattr(record, _MASKED, True)
    # Extra fields (e.g. Sanic's access log "request": the URL with its query string).
    for key, value in list(record.__dict__.items()):
        if key not in _STANDARD_FIELDS and key != _MASKED and isinstance(value, str):
            record.__dict__[key] = mask_log_text(value)
    return record


class MaskingFilter(logging.Filter):
    """A logging filter that masks personal data; it never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            mask_record(record)
        except Exception:  # masking must never lose a log line or break the caller
            record.msg, record.args = "<log line withheld: masking failed>", ()
            record.exc_info = record.exc_text = None
        return True


def mask_event_dict(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: mask every value of the event (but exception info, rendered later)."""
    for key, value in list(event_dict.items()):
        if key not in _STRUCTLOG_KEEP:
            try:
                event_dict[key] = mask_value(value)
            except Exception:
                event_dict[key] = "<withheld>"
    return event_dict


def install_structlog() -> bool:
    """Put ``mask_event_dict`` first in structlog's processors (in place, so loggers
    already bound see it too); True if it is there."""
    try:
        import structlog
    except ImportError:
        return False
    processors = structlog.get_config()["processors"]
    if mask_event_dict in processors:
        return True
    if isinstance(processors, list):
        processors.insert(0, mask_event_dict)
    else:
        structlog.configure(processors=[mask_event_dict, *processors])
    return True


def _masking_record_factory(previous: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            mask_record(record)
        except Exception:
            record.msg, record.args = "<log line withheld: masking failed>", ()
            record.exc_info = record.exc_text = None
        return record

    factory.anxin_masking = True  # type: ignore[attr-defined]
    return factory


def _excepthook(exc_type: Any, exc: Any, tb: Any) -> None:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(mask_log_text(text))


def _thread_excepthook(args: Any) -> None:
    if args.exc_type is SystemExit:
        return
    name = getattr(args.thread, "name", "?")
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(f"Exception in thread {name}:\n{mask_log_text(text)}")


def install() -> None:
    """Mask personal data in everything this process logs from now on (idempotent)."""
    global _installed
    with _lock:
        if not _installed:
            if not getattr(logging.getLogRecordFactory(), "anxin_masking", False):
                logging.setLogRecordFactory(_masking_record_factory(logging.getLogRecordFactory()))
            for name in _SANIC_LOGGERS:
                target = logging.getLogger(name)
                if not any(isinstance(f, MaskingFilter) for f in target.filters):
                    target.addFilter(MaskingFilter())
            logging.captureWarnings(True)
            sys.excepthook = _excepthook
            threading.excepthook = _thread_excepthook
            _installed = True
    install_structlog()


def installed_filter() -> MaskingFilter:
    """Factory for logging config files (``(): privacy.logs.installed_filter``):
    installs the masking and returns a filter to attach where wanted."""
    install()
    return MaskingFilter()
