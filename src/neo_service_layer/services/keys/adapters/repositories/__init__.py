"""Repositories of the keys service, one module per aggregate (SQLAlchemy Core).

Every query on a tenant table filters by tenant explicitly; on PostgreSQL row-level security enforces
the same filter a second time (``SqlUnitOfWork`` sets ``app.tenant_id`` per transaction). The sealed key
records are global (no tenant, no RLS): see ``adapters.tables`` for why.
"""
