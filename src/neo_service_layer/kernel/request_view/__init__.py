"""On-chain requests of every service as tenants and operators see them, and why each is stuck."""
