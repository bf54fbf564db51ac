"""Cache adapters: the in-process TTL + LRU store and the Redis pub/sub invalidation bus."""
