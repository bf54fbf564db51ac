"""The edge refuses JSON bodies that are not Unicode text, and passes every other body on unchanged."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from neo_service_layer.kernel.http.json_text import JsonTextMiddleware
from neo_service_layer.kernel.http.middleware import BodyLimitMiddleware


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, object]:
        body = await request.body()
        return {"length": len(body), "text": body.decode("utf-8", "replace")}

    app.add_middleware(JsonTextMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=1024)
    return app


async def _post(body: bytes, content_type: str | None = "application/json") -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post("/echo", content=body, headers=headers)


async def test_a_lone_surrogate_is_a_422_problem() -> None:
    for body in (b'{"a": "\\ud800"}', b'{"\\uDFFF": 1}', b'["x", ["\xed\xa0\x80"]]'):
        for content_type in ("application/json", "application/merge-patch+json; charset=utf-8", None):
            answer = await _post(body, content_type)
            assert answer.status_code == 422, (body, content_type)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["errors"][0]["type"] == "json_invalid"


async def test_text_pairs_escaped_backslashes_and_other_bodies_pass_unchanged() -> None:
    for body in (b'{"a": "\\ud83d\\ude00"}', b'{"a": "\\\\ud800"}', b"not json \\ud800", b"", b"x" * 1000):
        answer = await _post(body)
        assert answer.status_code == 200, body
        assert answer.json()["length"] == len(body)
    assert (await _post(b'"\\ud800"', "text/plain")).status_code == 200  # not JSON: the route decides


async def test_the_body_limit_still_applies() -> None:
    assert (await _post(b'"\\ud800' + b"x" * 2000 + b'"')).status_code == 413
