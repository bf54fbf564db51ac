"""The oracle service's public interface for other services: its signing key.

Price feeds sign their rounds and Neo's native Oracle node fetches with the oracle key; both find it
here, and the name it is published under in ``network.json``.
"""

from __future__ import annotations

from neo_service_layer.services.oracle.adapters.oracle_key import ORACLE_PUBLIC_KEY, load_oracle_key
from neo_service_layer.services.oracle.scopes import ORACLE_REQUEST
from neo_service_layer.services.oracle.use_cases.fulfilment import OracleKey

__all__ = ["ORACLE_PUBLIC_KEY", "ORACLE_REQUEST", "OracleKey", "load_oracle_key"]
