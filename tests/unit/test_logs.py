import json
import logging

import pytest

from neo_service_layer.kernel.config import LogFormat
from neo_service_layer.kernel.observability.logs import (
    REDACTED,
    configure_logging,
    get_logger,
    redact_secrets,
)


def test_secret_keys_are_redacted_at_any_depth() -> None:
    event = redact_secrets(
        None,
        "info",
        {
            "event": "x",
            "password": "p@ss",
            "headers": {"Authorization": "Bearer abc.def", "accept": "json"},
            "items": [{"client_secret": "s3"}, {"name": "ok"}],
            "api_key": "k",
            "key_id": "kid-1",
            "public_key": "02ab",
        },
    )
    assert event["password"] == REDACTED
    assert event["headers"]["Authorization"] == REDACTED
    assert event["headers"]["accept"] == "json"
    assert event["items"][0]["client_secret"] == REDACTED
    assert event["items"][1]["name"] == "ok"
    assert event["api_key"] == REDACTED
    assert event["key_id"] == "kid-1"
    assert event["public_key"] == "02ab"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("sent Bearer eyJhbGciOi.abc.def to upstream", "eyJhbGciOi.abc.def"),
        ("key nsl_ab12cd_zzzSECRETzzz used", "zzzSECRETzzz"),
        ("connect postgresql://app:pg-secret@db/nsl failed", "pg-secret"),
    ],
)
def test_secret_looking_text_is_masked(text: str, hidden: str) -> None:
    event = redact_secrets(None, "info", {"event": text})
    assert hidden not in event["event"]
    assert REDACTED in event["event"]


def test_json_lines_carry_context_and_never_the_secret(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", LogFormat.JSON)
    try:
        get_logger("t").info("login", user="alice", password="correct horse battery")
        logging.getLogger("stdlib").warning("token=%s", "Bearer sekret-token-value")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        configure_logging("INFO", LogFormat.JSON)
    assert lines[0]["event"] == "login"
    assert lines[0]["user"] == "alice"
    assert lines[0]["password"] == REDACTED
    assert "sekret-token-value" not in json.dumps(lines)
