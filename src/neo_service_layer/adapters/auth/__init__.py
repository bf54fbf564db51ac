"""Credential primitives: argon2id passwords, AES-GCM secret box, ES256 access tokens, TOTP."""
