"""Idempotency keys on the HTTP API's creating POSTs (``Idempotency-Key``; see docs/architecture.md)."""
