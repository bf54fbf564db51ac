"""Event subscriptions: tenant events delivered to Standard Webhooks endpoints or read as a stream."""
