"""Tables of identity and access, and of the audit log (SQLAlchemy Core, on the shared ``metadata``).

Global tables (no tenant, no row-level security): ``tenants``, ``users``, ``user_backup_codes``,
``login_throttle``, ``signing_keys``. Tenant tables (``tenant_id`` column, RLS on PostgreSQL):
``memberships``, ``api_keys``, ``refresh_tokens``, ``revoked_tokens``, ``audit_events``,
``audit_chain_heads``. See ``migrations/versions/0002_identity.py`` for the policies.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from neo_service_layer.kernel.db.tables import metadata

ID = 64
#: tenant tables protected by row-level security on PostgreSQL
TENANT_TABLES = (
    "memberships",
    "api_keys",
    "refresh_tokens",
    "revoked_tokens",
    "audit_events",
    "audit_chain_heads",
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("plan", String(32), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("username", String(128), nullable=False),
    Column("username_key", String(128), nullable=False, unique=True),  # casefolded, for look-up
    Column("password_hash", String(255), nullable=False),
    Column("is_superadmin", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("totp_secret", LargeBinary, nullable=True),  # AES-256-GCM sealed
    Column("totp_pending", LargeBinary, nullable=True),  # AES-256-GCM sealed
    Column("totp_last_step", BigInteger, nullable=False),
)

user_backup_codes = Table(
    "user_backup_codes",
    metadata,
    Column("user_id", String(ID), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("code_hash", String(64), primary_key=True),  # HMAC-SHA256 under a pepper
    Column("used_at", DateTime(timezone=True), nullable=True),
)

memberships = Table(
    "memberships",
    metadata,
    Column("tenant_id", String(ID), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(ID), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_memberships_user_id", "user_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("tenant_id", String(ID), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),  # HMAC-SHA256 under a pepper
    Column("name", String(100), nullable=False),
    Column("scopes", Text, nullable=False),  # space separated
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_keys_tenant_id", "tenant_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("family_id", String(ID), nullable=False),
    Column("tenant_id", String(ID), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", String(ID), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # HMAC-SHA256 under a pepper
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_refresh_tokens_tenant_id_family_id", "tenant_id", "family_id"),
)

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", String(ID), primary_key=True),
    Column("tenant_id", String(ID), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_failure_at", DateTime(timezone=True), nullable=True),
    Column("locked_until", DateTime(timezone=True), nullable=True),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(ID), primary_key=True),
    Column("public_jwk", Text, nullable=False),
    Column("private_key_sealed", LargeBinary, nullable=False),  # AES-256-GCM under the KEK
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
)

audit_chain_heads = Table(
    "audit_chain_heads",
    metadata,
    Column("tenant_id", String(ID), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("tenant_id", String(ID), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("client_ip", String(64), nullable=False),
    Column("details", Text, nullable=False),  # JSON object of strings
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("tenant_id", "seq"),
    Index("ix_audit_events_tenant_id_action", "tenant_id", "action"),
    Index("ix_audit_events_tenant_id_occurred_at", "tenant_id", "occurred_at"),
)
