"""Repositories of the secrets service, one module per aggregate (SQLAlchemy Core).

Every query filters by tenant explicitly; on PostgreSQL row-level security enforces the same filter a
second time (``SqlUnitOfWork`` sets ``app.tenant_id`` per transaction).
"""
