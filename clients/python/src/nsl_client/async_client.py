"""The asynchronous client: the operations of ``Client``, awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Concatenate

import httpx

from nsl_client.calls import Call
from nsl_client.models import StreamEvent, TokenResponse
from nsl_client.models.base import Page
from nsl_client.ops import crosschain, events, identity, keys_secrets, operators, secret_import, services
from nsl_client.retry import RetryPolicy
from nsl_client.session import (
    USER_AGENT,
    Credentials,
    build_request,
    finish,
    idempotency_key_for,
    problem_of,
    said_expired,
    said_in_flight,
)
from nsl_client.stream import EventStreamParser, Resumption, stream_request


def bind[**P, T](
    operation: Callable[P, Call[T]],
) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.send(operation(*args, **kwargs))

    method.__name__ = operation.__name__
    method.__doc__ = operation.__doc__
    return method


class AsyncClient:
    """``AsyncClient(base_url, api_key=...)``, or ``AsyncClient(base_url)`` then ``await sign_in(...)``.

    Retries 429 and 503 (honouring ``Retry-After``), a 409 saying the first request with the same
    idempotency key is still running, and connection errors of requests the server may see twice;
    refreshes a session's access token when it expires. ``clock`` and ``sleep`` are
    replaceable (tests, schedulers).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | str = True,
    ) -> None:
        self.credentials = Credentials(api_key=api_key)
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            transport=transport,
            verify=verify,
            headers={"user-agent": USER_AGENT},
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------------------------ machinery

    async def send[T](self, call: Call[T]) -> T:
        """Run ``call``: refresh first if the session's token has expired, retry as the policy says,
        refresh and try once more if the server says the token expired."""
        key = idempotency_key_for(call)
        if call.operation.authenticated and self.credentials.should_refresh(self._clock()):
            await self.refresh()
        response = await self._attempts(call, key)
        if call.operation.authenticated and said_expired(response) and self.credentials.can_refresh():
            await self.refresh()
            response = await self._attempts(call, key)
        return finish(call, response, self.credentials, self._clock())

    async def _attempts(self, call: Call[Any], key: str | None) -> httpx.Response:
        attempt = 0
        while True:
            request = build_request(self._http, call, self.credentials, key)
            try:
                response = await self._http.send(request)
            except httpx.TransportError:
                delay = self.retry.transport_delay(attempt, call.operation.method, key is not None)
                if delay is None:
                    raise
            else:
                retryable = response.status_code in self.retry.statuses
                if not retryable and not (key is not None and said_in_flight(response)):
                    return response
                delay = self.retry.status_delay(attempt, response.headers.get("retry-after"))
                if delay is None:
                    return response
            await self._sleep(delay)
            attempt += 1

    async def refresh(self) -> TokenResponse:
        """Rotate the session's refresh token now (``send`` does it when the access token expires)."""
        token = self.credentials.refresh_token
        if token is None:
            raise RuntimeError("no refresh token: sign in first")
        return await self.send(identity.refresh_tokens(token))

    async def iterate[I](self, page: Callable[..., Call[Page[I]]], /, **params: Any) -> AsyncIterator[I]:
        """Every item of a paged list: ``async for f in client.iterate(ops.list_functions)``."""
        cursor: str | None = None
        while True:
            current = await self.send(page(after=cursor, **params))
            for item in current.items:
                yield item
            cursor = current.cursor
            if cursor is None:
                return

    async def stream_events(
        self,
        subscription_id: str,
        *,
        last_event_id: int | None = None,
        reconnects: int = 5,
        read_timeout: float = 60.0,
    ) -> AsyncGenerator[StreamEvent]:
        """The subscription's events as they happen (``Server-Sent Events``); with ``last_event_id``,
        first every later one of its types. A problem answer (404 for an unknown or deleted
        subscription, 401, 403) raises its ``ProblemError``; 429 and 503 are retried as ``send`` does.
        A connection that ends or drops is resumed with ``Last-Event-ID`` (nothing lost or repeated),
        at most ``reconnects`` times in a row without an event (see ``nsl_client.stream``); a stream
        silent for ``read_timeout`` seconds (the server sends a keep-alive every 15) counts as dropped.
        ``aclose()`` it (or use ``contextlib.aclosing``) to end the connection when leaving early."""
        call = events.stream_events(subscription_id)
        start = EventStreamParser(None if last_event_id is None else str(last_event_id))
        resume = Resumption(reconnects, self.retry, read_timeout, start)
        while True:
            try:
                response = await self._open_stream(call, resume.parser.last_event_id, read_timeout)
                try:
                    resume.opened(self._clock())
                    async for line in response.aiter_lines():
                        event = resume.feed(line)
                        if event is not None:
                            yield event
                finally:
                    await response.aclose()
            except httpx.TransportError:
                delay = resume.ended(self._clock())
                if delay is None:
                    raise
            else:
                delay = resume.ended(self._clock())
                if delay is None:
                    return
            await self._sleep(delay)

    async def _open_stream(
        self, call: Call[None], last_event_id: str | None, read_timeout: float
    ) -> httpx.Response:
        """The stream's answer once it is 200, its body unread; problems raised as ``send`` raises them."""
        if self.credentials.should_refresh(self._clock()):
            await self.refresh()
        attempt, refreshed = 0, False
        while True:
            request = stream_request(self._http, call, self.credentials, last_event_id, read_timeout)
            response = await self._http.send(request, stream=True)
            if response.status_code < 400:
                return response
            await response.aread()
            await response.aclose()
            if not refreshed and said_expired(response) and self.credentials.can_refresh():
                await self.refresh()
                refreshed = True
                continue
            if response.status_code in self.retry.statuses:
                delay = self.retry.status_delay(attempt, response.headers.get("retry-after"))
                if delay is not None:
                    await self._sleep(delay)
                    attempt += 1
                    continue
            raise problem_of(response)

    # ------------------------------------------------------------------------------------ the API

    sign_in = bind(identity.sign_in)
    refresh_tokens = bind(identity.refresh_tokens)
    logout = bind(identity.logout)
    me = bind(identity.me)
    enroll_totp = bind(identity.enroll_totp)
    verify_totp = bind(identity.verify_totp)
    health = bind(identity.health)
    system_info = bind(identity.system_info)
    list_tenants = bind(identity.list_tenants)
    create_tenant = bind(identity.create_tenant)
    get_tenant = bind(identity.get_tenant)
    list_members = bind(identity.list_members)
    add_member = bind(identity.add_member)
    change_member_role = bind(identity.change_member_role)
    remove_member = bind(identity.remove_member)
    create_api_key = bind(identity.create_api_key)
    list_api_keys = bind(identity.list_api_keys)
    get_api_key = bind(identity.get_api_key)
    revoke_api_key = bind(identity.revoke_api_key)
    get_enclave_credentials = bind(identity.get_enclave_credentials)
    set_enclave_credentials = bind(identity.set_enclave_credentials)
    disable_user = bind(identity.disable_user)

    list_keys = bind(keys_secrets.list_keys)
    create_key = bind(keys_secrets.create_key)
    get_key = bind(keys_secrets.get_key)
    rotate_key = bind(keys_secrets.rotate_key)
    disable_key = bind(keys_secrets.disable_key)
    sign = bind(keys_secrets.sign)
    verify_signature = bind(keys_secrets.verify_signature)
    sign_batch = bind(keys_secrets.sign_batch)
    verify_public_signature = bind(keys_secrets.verify_public_signature)
    schedule_key_destruction = bind(keys_secrets.schedule_key_destruction)
    cancel_key_destruction = bind(keys_secrets.cancel_key_destruction)
    list_secrets = bind(keys_secrets.list_secrets)
    get_secret = bind(keys_secrets.get_secret)
    secret_versions = bind(keys_secrets.secret_versions)
    put_secret = bind(keys_secrets.put_secret)
    rotate_secret = bind(keys_secrets.rotate_secret)
    delete_secret = bind(keys_secrets.delete_secret)
    list_secret_sources = bind(secret_import.list_secret_sources)
    import_secrets = bind(secret_import.import_secrets)
    attestation_report = bind(keys_secrets.attestation_report)
    platform_attestation = bind(keys_secrets.platform_attestation)
    verify_attestation_remote = bind(keys_secrets.verify_attestation_remote)
    neo_network = bind(keys_secrets.neo_network)

    randomness = bind(services.randomness)
    randomness_request = bind(services.randomness_request)
    verify_randomness_remote = bind(services.verify_randomness_remote)
    neox_randomness_request = bind(services.neox_randomness_request)
    oracle_fetch = bind(services.oracle_fetch)
    oracle_request = bind(services.oracle_request)
    verify_oracle_remote = bind(services.verify_oracle_remote)
    list_oracle_templates = bind(services.list_oracle_templates)
    create_oracle_template = bind(services.create_oracle_template)
    get_oracle_template = bind(services.get_oracle_template)
    list_feeds = bind(services.list_feeds)
    get_feed = bind(services.get_feed)
    feed_rounds = bind(services.feed_rounds)
    create_function = bind(services.create_function)
    list_functions = bind(services.list_functions)
    get_function = bind(services.get_function)
    run_function = bind(services.run_function)
    list_runs = bind(services.list_runs)
    get_run = bind(services.get_run)
    compute_key = bind(services.compute_key)
    compute_request = bind(services.compute_request)
    verify_receipt_remote = bind(services.verify_receipt_remote)

    get_crosschain_message = bind(crosschain.get_crosschain_message)
    sender_crosschain_messages = bind(crosschain.sender_crosschain_messages)
    recent_crosschain_messages = bind(crosschain.recent_crosschain_messages)

    create_job = bind(events.create_job)
    list_jobs = bind(events.list_jobs)
    get_job = bind(events.get_job)
    pause_job = bind(events.pause_job)
    resume_job = bind(events.resume_job)
    delete_job = bind(events.delete_job)
    list_upkeeps = bind(events.list_upkeeps)
    get_upkeep = bind(events.get_upkeep)
    create_subscription = bind(events.create_subscription)
    list_subscriptions = bind(events.list_subscriptions)
    get_subscription = bind(events.get_subscription)
    pause_subscription = bind(events.pause_subscription)
    resume_subscription = bind(events.resume_subscription)
    delete_subscription = bind(events.delete_subscription)
    rotate_webhook_secret = bind(events.rotate_webhook_secret)
    list_deliveries = bind(events.list_deliveries)
    replay_delivery = bind(events.replay_delivery)
    webhook_signing_key = bind(events.webhook_signing_key)

    audit_log = bind(operators.audit_log)
    system_health = bind(operators.system_health)
    backup_status = bind(operators.backup_status)
    list_requests = bind(operators.list_requests)
    get_request = bind(operators.get_request)
