"""Public-key cryptography of the API process (no private keys here)."""
