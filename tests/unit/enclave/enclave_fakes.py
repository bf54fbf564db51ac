"""Test doubles: a hand-moved clock, and SGX DCAP quotes (v3/v4) signed by test keys like Gramine's."""

from __future__ import annotations

import datetime as dt
import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def _raw_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    ca: bool,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


class FakeClock:
    """Monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeQuotingEnclave:
    """A test root CA, a PCK certificate under it, and an attestation key: enough to make quotes."""

    mr_enclave: bytes = bytes(range(32))
    mr_signer: bytes = bytes(32)
    debug: bool = False
    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    pck_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    attestation_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        self.root = _cert("Test SGX Root CA", self.root_key, "Test SGX Root CA", self.root_key, ca=True)
        self.pck = _cert(
            "Test SGX PCK Certificate", self.pck_key, "Test SGX Root CA", self.root_key, ca=False
        )

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def quote(self, report_data: bytes, version: int = 3) -> bytes:
        header = struct.pack("<HHIHH", version, 2, 0, 0, 0) + bytes(16) + bytes(20)
        body = bytearray(384)
        body[48:56] = struct.pack("<Q", 0x4 | (0x2 if self.debug else 0))
        body[64:96] = self.mr_enclave
        body[128:160] = self.mr_signer
        body[320:384] = report_data
        signed = header + bytes(body)
        att_pub = self.attestation_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )[1:]
        qe_auth = bytes(range(32))
        qe_report = bytearray(384)
        qe_report[320:352] = hashlib.sha256(att_pub + qe_auth).digest()
        chain = self.pck.public_bytes(serialization.Encoding.PEM) + self.root_pem
        qe_part = (
            bytes(qe_report)
            + _raw_sign(self.pck_key, bytes(qe_report))
            + struct.pack("<H", len(qe_auth))
            + qe_auth
            + struct.pack("<HI", 5, len(chain))
            + chain
        )
        signature = _raw_sign(self.attestation_key, signed)
        if version == 4:
            sig_data = signature + att_pub + struct.pack("<HI", 6, len(qe_part)) + qe_part
        else:
            sig_data = signature + att_pub + qe_part
        return signed + struct.pack("<I", len(sig_data)) + sig_data


def make_attestation_dir(path: Path, sealing_key: bytes = b"\x11" * 16) -> Path:
    """A directory shaped like Gramine's /dev/attestation (without a quote yet)."""
    (path / "keys").mkdir(parents=True)
    (path / "keys" / "_sgx_mrenclave").write_bytes(sealing_key)
    (path / "attestation_type").write_text("dcap")
    return path
