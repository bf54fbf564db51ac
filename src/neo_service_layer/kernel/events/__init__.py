"""Tenant events: an outbox written in the producer's transaction (``adapters.publish``); the
subscriptions service delivers them (webhooks, Server-Sent Events)."""
