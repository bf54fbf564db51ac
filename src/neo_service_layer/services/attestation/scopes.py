"""The attestation service's scope. Standard library only; the roles that hold it: ``service.SERVICE``."""

from __future__ import annotations

#: attestation reports of the enclave, and their verification
ATTESTATION_READ = "attestation:read"
