"""The WIT export ``run`` around the tenant's module (function.py); written next to it by the builder.

Parses the input from JSON, calls the user's ``run(input)`` and encodes what it returns as bytes. It is
imported once at build time (componentize-py pre-initialises the component), so the checks at the top
fail the build, not the first run.
"""

from __future__ import annotations

import inspect
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

import wit_world  # type: ignore[import-not-found]
from componentize_py_types import Err  # type: ignore[import-not-found]

BUILD_ERROR = "NSL-BUILD-ERROR: "


def _build_error(message: str) -> NoReturn:
    print(BUILD_ERROR + message, file=sys.stderr, flush=True)
    raise SystemExit(1)


def _where(error: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.endswith("function.py")]
    return f"function.py line {frames[-1].lineno}: " if frames else ""


try:
    import function  # type: ignore[import-not-found]
except SyntaxError as error:
    _build_error(f"{error.filename or 'function.py'} line {error.lineno}: syntax error: {error.msg}")
except BaseException as error:
    _build_error(f"{_where(error)}importing the module failed: {type(error).__name__}: {error}")

_found = getattr(function, "run", None)
if not callable(_found):
    _build_error("function.py defines no function run(input): add `def run(input): ...`")
_user_run: Callable[[Any], Any] = _found
if inspect.iscoroutinefunction(_user_run):
    _build_error("run must be a plain function (def), not async def")
try:
    inspect.signature(_user_run).bind(None)
except TypeError:
    _build_error("run must take exactly one argument: the input")
except ValueError:
    pass  # no signature to inspect (a builtin): let the call decide


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _encode(result: Any) -> bytes:
    if isinstance(result, bytes | bytearray | memoryview):
        return bytes(result)
    if isinstance(result, str):
        return result.encode("utf-8")
    try:
        text = json.dumps(result, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise Err(f"run returned a value that cannot be encoded as JSON: {error}") from None
    return text.encode("utf-8")


class WitWorld(wit_world.WitWorld):  # type: ignore[misc]
    """The component's export: an ``Err`` raised here becomes the WIT error string."""

    def run(self, input: str) -> bytes:
        value: Any = None
        if input.strip():
            try:
                value = json.loads(input)
            except ValueError as error:
                raise Err(f"the input is not JSON: {error}") from None
        try:
            result = _user_run(value)
        except BaseException as error:
            raise Err(_describe(error)) from None
        return _encode(result)
