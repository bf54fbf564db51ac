"""The subscriptions service's scopes (standard library only); the roles holding them: ``service``."""

from __future__ import annotations

#: the tenant's subscriptions, their delivery state and dead letters, and their event streams
SUBSCRIPTIONS_READ = "subscriptions:read"
#: create, pause, resume and delete subscriptions, rotate a webhook secret, replay a dead letter
SUBSCRIPTIONS_WRITE = "subscriptions:write"
