"""Pure rules of the subscriptions service (standard library only)."""
