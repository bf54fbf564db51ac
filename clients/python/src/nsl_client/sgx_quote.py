"""Parsing and signature checks of Intel SGX DCAP quotes (versions 3 and 4, ECDSA-P256): the enclave's
``enclave/sgx_quote.py``, copied so the client needs nothing of the server.

Checked here: the quote's ECDSA signature over header ‖ report body with the attestation key in the
quote; the Quoting Enclave report binding that key (SHA-256(key ‖ auth data) in its report data);
the QE report's signature by the PCK certificate; and that certificate chain up to a trusted root
(Intel's SGX Root CA by default). Not checked: TCB level, QE identity and revocation, which need
Intel PCS collateral (TCB info, QE identity, CRLs) fetched from outside.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

HEADER_BYTES = 48
BODY_BYTES = 384
ECDSA_P256 = 2
CERT_QE_REPORT = 6
CERT_PCK_CHAIN = 5
SGX_DEBUG_FLAG = 0x2

# Intel SGX Root CA (CN=Intel SGX Root CA, valid 2018-05-21 to 2049-12-31), SHA-256 of the DER:
# 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3
INTEL_SGX_ROOT_CA_PEM = b"""-----BEGIN CERTIFICATE-----
MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
-----END CERTIFICATE-----
"""


class QuoteFormatError(ValueError):
    """The bytes are not an SGX ECDSA-P256 quote of version 3 or 4."""


@dataclass(frozen=True, slots=True)
class SgxQuote:
    version: int
    signed_part: bytes = field(repr=False)  # header ‖ report body
    mr_enclave: bytes
    mr_signer: bytes
    attribute_flags: int
    isv_prod_id: int
    isv_svn: int
    report_data: bytes
    signature: bytes = field(repr=False)
    attestation_key: bytes = field(repr=False)
    qe_report: bytes = field(repr=False)
    qe_report_signature: bytes = field(repr=False)
    qe_auth_data: bytes = field(repr=False)
    pck_chain_pem: bytes | None = field(repr=False)

    @property
    def is_debug(self) -> bool:
        return bool(self.attribute_flags & SGX_DEBUG_FLAG)


class _Reader:
    def __init__(self, data: bytes, offset: int) -> None:
        self.data, self.offset = data, offset

    def take(self, n: int) -> bytes:
        if n < 0 or self.offset + n > len(self.data):
            raise QuoteFormatError("quote is truncated")
        chunk = self.data[self.offset : self.offset + n]
        self.offset += n
        return chunk

    def u16(self) -> int:
        return int(struct.unpack("<H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])


def parse_quote(data: bytes) -> SgxQuote:
    """Split a DCAP quote into the fields the verifier needs; raises ``QuoteFormatError``."""
    if len(data) < HEADER_BYTES + BODY_BYTES + 4:
        raise QuoteFormatError("quote is too short")
    version, key_type, tee_type = struct.unpack("<HHI", data[:8])
    if version not in (3, 4):
        raise QuoteFormatError(f"unsupported quote version {version}")
    if key_type != ECDSA_P256:
        raise QuoteFormatError("quote attestation key type is not ECDSA-P256")
    if version == 4 and tee_type != 0:
        raise QuoteFormatError("quote is not an SGX quote")
    body = data[HEADER_BYTES : HEADER_BYTES + BODY_BYTES]
    reader = _Reader(data, HEADER_BYTES + BODY_BYTES)
    sig_len = reader.u32()
    sig = _Reader(reader.take(sig_len), 0)
    signature, attestation_key = sig.take(64), sig.take(64)
    if version == 4:
        if sig.u16() != CERT_QE_REPORT:
            raise QuoteFormatError("v4 quote lacks QE report certification data")
        sig = _Reader(sig.take(sig.u32()), 0)
    qe_report, qe_report_signature = sig.take(BODY_BYTES), sig.take(64)
    qe_auth_data = sig.take(sig.u16())
    cert_type = sig.u16()
    cert_data = sig.take(sig.u32())
    flags = int(struct.unpack("<Q", body[48:56])[0])
    isv_prod_id, isv_svn = struct.unpack("<HH", body[256:260])
    return SgxQuote(
        version=version,
        signed_part=data[: HEADER_BYTES + BODY_BYTES],
        mr_enclave=body[64:96],
        mr_signer=body[128:160],
        attribute_flags=flags,
        isv_prod_id=isv_prod_id,
        isv_svn=isv_svn,
        report_data=body[320:384],
        signature=signature,
        attestation_key=attestation_key,
        qe_report=qe_report,
        qe_report_signature=qe_report_signature,
        qe_auth_data=qe_auth_data,
        pck_chain_pem=cert_data.rstrip(b"\0") if cert_type == CERT_PCK_CHAIN else None,
    )


def _p256_verify(public: ec.EllipticCurvePublicKey, raw_signature: bytes, data: bytes) -> bool:
    r, s = int.from_bytes(raw_signature[:32], "big"), int.from_bytes(raw_signature[32:], "big")
    try:
        public.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def quote_signature_valid(quote: SgxQuote) -> bool:
    """The ISV enclave report signature, made with the attestation key carried in the quote."""
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + quote.attestation_key)
    except ValueError:
        return False
    return _p256_verify(key, quote.signature, quote.signed_part)


def attestation_key_bound(quote: SgxQuote) -> bool:
    """The QE report data starts with SHA-256(attestation key ‖ QE auth data)."""
    expected = hashlib.sha256(quote.attestation_key + quote.qe_auth_data).digest()
    return quote.qe_report[320:352] == expected


def pck_chain_problems(quote: SgxQuote, root_pem: bytes, now: datetime | None = None) -> list[str]:
    """Problems with the QE report signature and the PCK chain up to ``root_pem``; empty if all good."""
    if quote.pck_chain_pem is None:
        return ["quote carries no PCK certificate chain"]
    try:
        chain = x509.load_pem_x509_certificates(quote.pck_chain_pem)
        root = x509.load_pem_x509_certificate(root_pem)
    except ValueError:
        return ["PCK certificate chain is malformed"]
    moment = now or datetime.now(UTC)
    problems = []
    for cert in chain:
        if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
            problems.append(f"certificate {cert.subject.rfc4514_string()} is outside its validity period")
    for child, parent in zip(chain, [*chain[1:], root], strict=True):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            problems.append(f"certificate {child.subject.rfc4514_string()} is not issued by its parent")
    leaf_key = chain[0].public_key() if chain else None
    if not isinstance(leaf_key, ec.EllipticCurvePublicKey) or not _p256_verify(
        leaf_key, quote.qe_report_signature, quote.qe_report
    ):
        problems.append("QE report is not signed by the PCK certificate")
    return problems
