"""Neo's oracle JSONPath as neo-go evaluates it (``pkg/services/oracle/jsonpath``), limits included.

The other oracle nodes of a network must compute byte-identical results, so this is neo-go's grammar and
semantics rather than RFC 9535's:

- ``$`` then any of ``.name``, ``.*``, ``..name`` (recursive descent by name only), ``[*]``, ``[n]``,
  ``['name']`` (the quoted text is read as a JSON string), unions ``[n,m,...]`` / ``['a','b',...]`` and
  slices ``[a:b]``, ``[a:]``, ``[:b]`` (an end of 0 or less counts from the array's end, so ``[1:0]``
  is ``[1:]``); indices are 32-bit integers, negative ones count from the end;
- at most ``MAX_DEPTH`` (6) levels are descended, and a recursive descent spends one level per layer it
  searches, so ``$..name`` finds names at most 6 levels down;
- no step may hold more than ``MAX_OBJECTS`` (1,024) values: the path is then invalid (``Error``).

``select`` returns the matched values in document order, or ``None`` for a path neo-go refuses.
"""

from __future__ import annotations

import json
from typing import Any, Final

MAX_DEPTH: Final = 6
MAX_OBJECTS: Final = 1024

_SINGLE: Final = {"$": "root", ".": "dot", "[": "[", "]": "]", "*": "*", ",": ",", ":": ":"}
_IDENT_START: Final = frozenset("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_IDENT: Final = _IDENT_START | frozenset("0123456789")
_DIGITS: Final = frozenset("0123456789")
_INT32: Final = range(-(2**31), 2**31)


class _Invalid(Exception):
    """The path is not one neo-go evaluates (or a step exceeded a limit)."""


def _int32(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise _Invalid from None
    if value not in _INT32:
        raise _Invalid
    return value


def _name(quoted: str) -> str:
    """A single-quoted name, its inside read as a JSON string (as neo-go unmarshals it)."""
    try:
        value = json.loads('"' + quoted.strip("'") + '"')
    except ValueError:
        raise _Invalid from None
    if not isinstance(value, str):
        raise _Invalid
    return value


def _bounded(values: list[Any], more: int) -> None:
    if len(values) + more > MAX_OBJECTS:
        raise _Invalid


class _Path:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.depth = MAX_DEPTH

    def token(self) -> tuple[str, str]:
        """The next token's kind and text (``invalid`` at the end or on anything else)."""
        s, i = self.text, self.at
        if i >= len(s):
            return "invalid", ""
        c = s[i]
        end = i + 1
        if c in _SINGLE:
            kind = _SINGLE[c]
        elif c == "'":
            end = s.find("'", i + 1) + 1
            if end == 0:
                return "invalid", ""
            kind = "string"
        elif c in _IDENT_START:
            while end < len(s) and s[end] in _IDENT:
                end += 1
            kind = "ident"
        elif c == "-" or c in _DIGITS:
            while end < len(s) and s[end] in _DIGITS:
                end += 1
            kind = "number"
        else:
            return "invalid", ""
        self.at = end
        return kind, s[i:end]

    def level(self) -> None:
        if self.depth <= 0:
            raise _Invalid
        self.depth -= 1

    def descend(self, objs: list[Any]) -> list[Any]:
        """One level down: array items and object values."""
        self.level()
        values: list[Any] = []
        for obj in objs:
            if isinstance(obj, list | dict):
                _bounded(values, len(obj))
                values.extend(obj if isinstance(obj, list) else obj.values())
        return values

    def by_names(self, objs: list[Any], names: list[str], spend: bool = True) -> list[Any]:
        if spend:
            self.level()
        values: list[Any] = []
        for obj in objs:
            if isinstance(obj, dict):
                for name in names:
                    if name in obj:
                        _bounded(values, 1)
                        values.append(obj[name])
        return values

    def by_indices(self, objs: list[Any], indices: list[int]) -> list[Any]:
        self.level()
        values: list[Any] = []
        for obj in objs:
            if isinstance(obj, list):
                for index in indices:
                    j = index + len(obj) if index < 0 else index
                    if 0 <= j < len(obj):
                        _bounded(values, 1)
                        values.append(obj[j])
        return values

    def by_range(self, objs: list[Any], start: int, end: int) -> list[Any]:
        self.level()
        values: list[Any] = []
        for obj in objs:
            if isinstance(obj, list):
                first = max(start + len(obj), 0) if start < 0 else start  # neo-go panics below 0
                last = min(end + len(obj) if end <= 0 else end, len(obj))
                if last > first:
                    _bounded(values, last - first)
                    values.extend(obj[first:last])
        return values

    def recursive(self, objs: list[Any]) -> list[Any]:
        kind, name = self.token()
        if kind != "ident":
            raise _Invalid
        values: list[Any] = []
        while objs:
            try:
                found = self.by_names(objs, [name], spend=False)
            except _Invalid:  # one layer with too many matches adds none (neo-go ignores this error)
                found = []
            _bounded(values, len(found))
            values.extend(found)
            try:
                objs = self.descend(objs)
            except _Invalid:  # out of levels: the search stops there (neo-go ignores this error)
                objs = []
        return values

    def dot(self, objs: list[Any]) -> list[Any]:
        kind, text = self.token()
        if kind == "*":
            return self.descend(objs)
        if kind == "dot":
            return self.recursive(objs)
        if kind == "ident":
            return self.by_names(objs, [text])
        raise _Invalid

    def bracket(self, objs: list[Any]) -> list[Any]:
        kind, text = self.token()
        if kind == "*":
            if self.token()[0] != "]":
                raise _Invalid
            return self.descend(objs)
        if kind == ":":
            return self.slice(objs, 0)
        if kind == "number":
            after = self.token()[0]
            if after == ":":
                return self.slice(objs, _int32(text))
            if after == ",":
                return self.union(objs, kind, text)
            if after == "]":
                return self.by_indices(objs, [_int32(text)])
            raise _Invalid
        if kind == "string":
            after = self.token()[0]
            if after == ",":
                return self.union(objs, kind, text)
            if after == "]":
                return self.by_names(objs, [_name(text)])
        raise _Invalid

    def union(self, objs: list[Any], kind: str, first: str) -> list[Any]:
        items = [first]
        while True:
            item_kind, text = self.token()
            if item_kind != kind:
                raise _Invalid
            items.append(text)
            after = self.token()[0]
            if after == "]":
                break
            if after != ",":
                raise _Invalid
        if kind == "number":
            return self.by_indices(objs, [_int32(i) for i in items])
        return self.by_names(objs, [_name(i) for i in items])

    def slice(self, objs: list[Any], start: int) -> list[Any]:
        kind, text = self.token()
        if kind == "number":
            if self.token()[0] != "]":
                raise _Invalid
            return self.by_range(objs, start, _int32(text))
        if kind == "]":
            return self.by_range(objs, start, 0)
        raise _Invalid


def select(path: str, document: Any) -> list[Any] | None:
    """The values ``path`` selects in ``document`` (parsed JSON), or ``None`` if neo-go refuses it."""
    if path == "":
        return [document]
    parser = _Path(path)
    try:
        if parser.token()[0] != "root":
            return None
        objs = [document]
        while parser.at < len(path):
            kind = parser.token()[0]
            if kind == "dot":
                objs = parser.dot(objs)
            elif kind == "[":
                objs = parser.bracket(objs)
            else:
                return None
            if len(objs) > MAX_OBJECTS:
                return None
    except _Invalid:
        return None
    return objs
