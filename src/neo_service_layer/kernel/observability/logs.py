"""Structured logging: JSON lines in production, readable console in development.

Every event passes through :func:`redact_secrets`, which masks values whose key looks secret
(password, secret, token, key, authorization, cookie) and bearer credentials inside strings, so a
careless ``log.info(..., headers=headers)`` cannot leak a credential.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from neo_service_layer.kernel.config import LogFormat
from neo_service_layer.kernel.observability.tracing import add_trace_context

REDACTED = "[REDACTED]"
_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|(^|_|-)key$|api[_-]?key|private|authorization|cookie|credential|seed_phrase|mnemonic)",
    re.I,
)
_SECRET_IN_TEXT = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+|(nsl_[A-Za-z0-9]+_)[A-Za-z0-9_-]+|(://[^:/@\s]+:)[^@\s]+(@)"
)
# keys that merely describe a key and are safe to show
_SAFE_KEYS = frozenset(
    {"key_id", "public_key", "kid", "key_kind", "key_version", "token_type", "idempotency_key"}
)


def _mask_text(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1) + REDACTED
        if match.group(2):
            return match.group(2) + REDACTED
        return f"{match.group(3)}{REDACTED}{match.group(4)}"

    return _SECRET_IN_TEXT.sub(repl, text)


def _redact(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, Mapping):
        return {k: (REDACTED if _is_secret_key(k) else _redact(v, depth + 1)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, depth + 1) for v in value]
    if isinstance(value, str):
        return _mask_text(value)
    return value


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower() not in _SAFE_KEYS and bool(_SECRET_KEY.search(key))


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor that masks secret-looking values anywhere in the event."""
    for key in list(event_dict):
        value = event_dict[key]
        if _is_secret_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact(value)
    return event_dict


def configure_logging(level: str = "INFO", fmt: LogFormat = LogFormat.AUTO) -> None:
    """Route stdlib and structlog output through one redacting pipeline to stderr."""
    use_json = fmt is LogFormat.JSON or (fmt is LogFormat.AUTO and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        add_trace_context,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # filter first: an event below the level (the access log line at WARNING) costs no processing
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log duplicates ours; its error log goes through the pipeline above.
    logging.getLogger("uvicorn.access").disabled = True
    # These log at INFO what is noise for operators (alembic) or names of secrets (azure request URLs).
    for noisy in ("alembic", "azure.core.pipeline.policies.http_logging_policy"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
