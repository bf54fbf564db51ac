"""Settings of the services: automation and subscription retention, deliveries, the oracle, price feeds,
compute limits, secret imports and e-mail. A part of :class:`~neo_service_layer.kernel.config.Settings`
(same ``NSL_`` variables), kept apart so that each settings module stays readable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import NoDecode


class ServiceSettings(BaseModel):
    # Automation and subscriptions
    #: days a finished run (delivered, failed, skipped) of a tenant's automation job is kept
    automation_job_run_retention_days: int = Field(default=30, ge=1, le=3650)
    #: outbox events and finished (delivered, dead-lettered) deliveries are deleted this long after
    subscriptions_retention_days: int = Field(default=30, ge=1, le=3650)
    #: webhook (or SMTP) attempts one worker has in flight at once per endpoint (URL origin)
    subscriptions_max_per_endpoint: int = Field(default=4, ge=1, le=1000)
    #: attempts of a webhook delivery, in all, before it is dead-lettered (also after 72 h)
    subscriptions_max_attempts: int = Field(default=16, ge=1, le=16)

    # Oracle (web data for contracts) and price feeds
    #: script hashes (0x...) of the deployed oracle service and price feed contracts (local chain:
    #: from network.json)
    neo_oracle_contract: str | None = None
    neo_feed_contract: str | None = None
    #: read by the enclave from its own environment (shown here for ``nsl config show``): IP addresses or
    #: CIDR networks the SSRF guard lets through, plain ``http://`` allowed, a CA bundle instead of certifi
    oracle_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    oracle_allow_http: bool = False
    oracle_ca_file: Path | None = None
    #: read by the enclave from its own environment (shown here for ``nsl config show``): the operator's
    #: maxima per compute run (a function asks for less) and the runs the enclave makes at once
    compute_max_fuel: int = Field(default=200_000_000_000, ge=1_000_000)
    compute_max_memory_mb: int = Field(default=512, ge=32, le=4096)
    compute_max_wall_ms: int = Field(default=60_000, ge=100)
    compute_max_fetches: int = Field(default=20, ge=0, le=1000)
    compute_max_result_bytes: int = Field(default=1024 * 1024, ge=1)
    compute_concurrency: int = Field(default=2, ge=1, le=64)
    #: SSRF guard of secret imports (Vault / AWS endpoint / Azure vault URLs given by tenants), in the
    #: API process: IP addresses or CIDR networks let through anyway, plain ``http://`` allowed
    secret_sources_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    secret_sources_allow_http: bool = False
    #: oracle requests fetched at the same time by one worker, and answered per transaction
    oracle_fetch_concurrency: int = Field(default=8, ge=1, le=64)
    oracle_answers_per_transaction: int = Field(default=10, ge=1, le=50)
    #: serve Neo's native Oracle as a designated node when the node key exists (``nsl chain up`` creates
    #: and designates it on the local chain; elsewhere the committee designates it); see docs/oracle.md
    neo_native_oracle: bool = True
    #: RPC URLs of the other designated oracle nodes (with their oracle service on): when the Oracle role
    #: needs more than this node's signature, each response signature is submitted to them
    #: (``submitoracleresponse``) and the node that gathers enough signatures sends the transaction
    neo_oracle_peers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: response transactions the native Oracle node writes for one request (each refused, expired
    #: unincluded or faulted one is answered again) before it marks the request failed
    neo_native_oracle_max_responses: int = Field(default=3, ge=1, le=100)
    #: price feeds: a JSON list of {pair, description, decimals, sources: [{name, url, path}],
    #: deviation, heartbeat_seconds, quorum, max_outlier_distance}; see docs/oracle.md
    feeds: list[dict[str, Any]] = Field(default_factory=list)
    #: how often the worker runs a round of every feed
    feed_interval_seconds: float = Field(default=10.0, gt=0)

    # E-mail (the subscriptions' e-mail channel; see docs/events.md)
    #: the SMTP server the worker sends subscription mail through; unset: no e-mail channel (422 no-smtp)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    #: AUTH (LOGIN/PLAIN) credentials, both or neither
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    #: the mails' From address (required with NSL_SMTP_HOST)
    smtp_from: str | None = Field(default=None, max_length=254, pattern=r"^[^\s@<>]+@[^\s@<>]+$")
    #: ``starttls`` (upgrade on the port, usually 587), ``tls`` (TLS from the start, usually 465) or
    #: ``none`` (plain: only to a loopback host, or outside production)
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    #: CA bundle (PEM) that the SMTP server's certificate is checked against instead of the system's
    smtp_ca_file: Path | None = None
