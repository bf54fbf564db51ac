"""``NSL_BUS_URL``: a secret (masked in ``masked()``, ``repr`` and the adapter's refusal), blank means
unset; the bus message format round-trips and refuses what names no delivery."""

from __future__ import annotations

import pytest

from neo_service_layer.kernel.config import Settings
from neo_service_layer.services.subscriptions.adapters.bus import RabbitBus, decode, encode


def test_the_bus_url_is_masked_everywhere() -> None:
    settings = Settings(bus_url="amqp://nsl:bus-pass-123@rabbitmq:5672/")
    shown = repr(settings) + str(settings.masked()) + str(settings.masked_bus_url)
    assert "bus-pass-123" not in shown
    assert settings.masked()["bus_url"] == "amqp://nsl:********@rabbitmq:5672/"
    assert RabbitBus(settings.bus_url.get_secret_value()).address == "amqp://nsl:********@rabbitmq:5672/"  # type: ignore[union-attr]


def test_no_bus_by_default_and_blank_is_unset() -> None:
    assert Settings().bus_url is None
    assert Settings(bus_url="  ").bus_url is None


def test_a_url_that_is_not_amqp_is_refused_without_its_password() -> None:
    with pytest.raises(ValueError, match="amqp") as refused:
        RabbitBus("http://nsl:bus-pass-123@rabbitmq:5672/")
    assert "bus-pass-123" not in str(refused.value)


def test_messages_round_trip_and_junk_names_nothing() -> None:
    assert decode(encode("sub_abc", 42)) == ("sub_abc", 42)
    for body in (
        b"",
        b"{",
        b"[]",
        b'{"subscriptionId": "s"}',
        b'{"subscriptionId": 1, "eventId": 2}',
        b'{"subscriptionId": "s", "eventId": true}',
        b'{"subscriptionId": "s", "eventId": 0}',
        b'{"subscriptionId": "", "eventId": 3}',
        b'{"subscriptionId": "s", "eventId": "3"}',
    ):
        assert decode(body) is None, body
