"""Read-through caches of what is read far more often than written, dropped by tag on every replica."""
