"""The access-token signing keys (ES256): private keys stored sealed, public keys published as JWKS.

A rotation retires every other key; a retired key stays published for a while so tokens it signed still
verify until they expire.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import and_, insert, select, update

from neo_service_layer.kernel.db.timestamps import utc, utc_required
from neo_service_layer.kernel.identity.adapters.repositories.base import SqlRepository
from neo_service_layer.kernel.identity.adapters.tables import signing_keys
from neo_service_layer.kernel.identity.rules.tokens import SigningKey


class SqlSigningKeys(SqlRepository):
    async def add(self, key: SigningKey) -> None:
        await self._conn.execute(
            insert(signing_keys).values(
                kid=key.kid,
                public_jwk=json.dumps(dict(key.public_jwk), sort_keys=True),
                private_key_sealed=key.private_pem_sealed,
                created_at=key.created_at,
                retired_at=key.retired_at,
            )
        )

    async def published(self, since: datetime) -> list[SigningKey]:
        query = (
            select(signing_keys)
            .where((signing_keys.c.retired_at.is_(None)) | (signing_keys.c.retired_at > since))
            .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid)
        )
        return [
            SigningKey(
                kid=row.kid,
                public_jwk=json.loads(row.public_jwk),
                private_pem_sealed=row.private_key_sealed,
                created_at=utc_required(row.created_at),
                retired_at=utc(row.retired_at),
            )
            for row in (await self._conn.execute(query)).all()
        ]

    async def retire_all_except(self, kid: str, now: datetime) -> None:
        await self._conn.execute(
            update(signing_keys)
            .where(and_(signing_keys.c.kid != kid, signing_keys.c.retired_at.is_(None)))
            .values(retired_at=now)
        )
