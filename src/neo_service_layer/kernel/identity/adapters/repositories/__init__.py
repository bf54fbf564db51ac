"""Identity repositories, one module per aggregate (SQLAlchemy Core on the unit of work's connection).

Every query on a tenant table filters by tenant explicitly; on PostgreSQL row-level security enforces
the same filter a second time. The three look-ups that precede knowing the tenant (a user's own
memberships, an API key by prefix, a refresh token by hash) first set a transaction-local setting that
one narrow SELECT policy matches on, and nothing else.
"""
