"""The oracle service's scope. Standard library only; the roles that hold it: ``service.SERVICE``."""

from __future__ import annotations

#: fetches off chain, verification of answers, request templates (price feeds are read with it too)
ORACLE_REQUEST = "oracle:request"
