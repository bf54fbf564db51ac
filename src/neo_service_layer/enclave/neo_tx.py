"""Neo N3 transactions inside the enclave: parse, serialize and hash them (no neo-mamba).

The enclave signs a transaction only after reading it itself (``sign_transaction``), so it needs the
wire format itself. It uses the standard library, plus pycryptodome's RIPEMD-160 for account script
hashes, because ``hashlib`` built against OpenSSL 3 does not provide RIPEMD-160. The layout is
Neo N3's (``Neo.Network.P2P.Payloads.Transaction``):

``version u8 (0) | nonce u32 | systemFee i64 | networkFee i64 | validUntilBlock u32 |
signers var[Signer] | attributes var[Attribute] | script var-bytes`` — the unsigned part, whose SHA-256 is
the hash — then ``witnesses var[Witness]`` (one per signer). Integers are little-endian; ``var`` is
Neo's var-int length. The signed message is ``u32le(network magic) || hash`` (``signing_message``).

Parsing is strict: the bytes must be exactly what ``serialize`` gives back for the parsed value (a
non-canonical var-int, trailing bytes or an unknown attribute are refused), so the hash the enclave
signs is the hash of the bytes it checked. Errors are ``MalformedTransaction`` (wire code
``invalid_argument``) and never echo the input.

API: ``Transaction``, ``Signer``, ``Witness``, ``OracleResponseAttribute`` and the other attributes;
``parse_transaction`` / ``parse_unsigned``; ``serialize`` / ``serialize_unsigned``; ``tx_hash``,
``hash_text``, ``signing_message``; ``signature_witness`` and ``account_of`` for a single-key account;
``contract_calls`` and ``call_script`` (re-exported from ``neo_script``).
"""

from __future__ import annotations

import hashlib
import struct

from Crypto.Hash import RIPEMD160

from neo_service_layer.enclave.neo_script import (
    CHECK_SIG,
    ContractCall,
    MalformedTransaction,
    Reader,
    call_script,
    contract_calls,
    push_data,
    syscall,
    var_bytes,
    var_int,
)
from neo_service_layer.enclave.neo_tx_model import (
    MAX_ATTRIBUTES,
    MAX_ORACLE_RESULT,
    MAX_SCRIPT,
    MAX_TRANSACTION_SIZE,
    MAX_WITNESS_SCRIPT,
    Attribute,
    ConflictsAttribute,
    HighPriorityAttribute,
    NotaryAssistedAttribute,
    NotValidBeforeAttribute,
    OracleResponseAttribute,
    OracleResponseCode,
    Signer,
    Transaction,
    Witness,
    WitnessScope,
)

__all__ = [
    "ConflictsAttribute",
    "ContractCall",
    "HighPriorityAttribute",
    "MalformedTransaction",
    "NotValidBeforeAttribute",
    "NotaryAssistedAttribute",
    "OracleResponseAttribute",
    "OracleResponseCode",
    "Signer",
    "Transaction",
    "Witness",
    "WitnessScope",
    "account_of",
    "call_script",
    "contract_calls",
    "hash_text",
    "parse_transaction",
    "parse_unsigned",
    "serialize",
    "serialize_unsigned",
    "signature_witness",
    "signing_message",
    "tx_hash",
    "verification_script",
]

_MAX_RULE_DEPTH = 3

# parsing -------------------------------------------------------------------------------------------


def parse_unsigned(data: bytes) -> Transaction:
    """The unsigned part of a transaction (what ``serialize_unsigned`` writes); no witnesses follow."""
    reader = Reader(data)
    tx = _read_unsigned(reader)
    reader.end()
    return _canonical(tx, data, signed=False)


def parse_transaction(data: bytes) -> Transaction:
    """A whole transaction: the unsigned part and one witness per signer."""
    reader = Reader(data)
    tx = _read_unsigned(reader)
    count = reader.var_int(len(tx.signers))
    if count != len(tx.signers):
        raise MalformedTransaction("a transaction needs one witness per signer")
    witnesses = tuple(
        Witness(reader.var_bytes(MAX_WITNESS_SCRIPT), reader.var_bytes(MAX_WITNESS_SCRIPT))
        for _ in range(count)
    )
    reader.end()
    tx = Transaction(
        nonce=tx.nonce,
        system_fee=tx.system_fee,
        network_fee=tx.network_fee,
        valid_until_block=tx.valid_until_block,
        signers=tx.signers,
        script=tx.script,
        attributes=tx.attributes,
        witnesses=witnesses,
        version=tx.version,
    )
    return _canonical(tx, data, signed=True)


def _canonical(tx: Transaction, data: bytes, *, signed: bool) -> Transaction:
    if len(data) > MAX_TRANSACTION_SIZE:
        raise MalformedTransaction(f"a transaction is at most {MAX_TRANSACTION_SIZE} bytes")
    again = serialize(tx) if signed else serialize_unsigned(tx)
    if again != data:
        raise MalformedTransaction("transaction bytes are not in canonical form")
    return tx


def _read_unsigned(reader: Reader) -> Transaction:
    version = reader.u8()
    if version != 0:
        raise MalformedTransaction("transaction version must be 0")
    nonce = reader.u32()
    system_fee = reader.i64()
    network_fee = reader.i64()
    if system_fee < 0 or network_fee < 0:
        raise MalformedTransaction("fees cannot be negative")
    valid_until_block = reader.u32()
    signers = tuple(_read_signer(reader) for _ in range(reader.var_int(MAX_ATTRIBUTES)))
    if not signers:
        raise MalformedTransaction("a transaction needs at least one signer")
    if len({s.account for s in signers}) != len(signers):
        raise MalformedTransaction("duplicate signer")
    attributes = tuple(_read_attribute(reader) for _ in range(reader.var_int(MAX_ATTRIBUTES - len(signers))))
    singles = [type(a) for a in attributes if not isinstance(a, ConflictsAttribute)]
    if len(set(singles)) != len(singles):
        raise MalformedTransaction("duplicate transaction attribute")
    script = reader.var_bytes(MAX_SCRIPT)
    if not script:
        raise MalformedTransaction("the script is empty")
    return Transaction(
        nonce=nonce,
        system_fee=system_fee,
        network_fee=network_fee,
        valid_until_block=valid_until_block,
        signers=signers,
        script=script,
        attributes=attributes,
        version=version,
    )


def _read_signer(reader: Reader) -> Signer:
    account = reader.take(20)
    raw_scope = reader.u8()
    known = sum(WitnessScope)
    if raw_scope & ~known:
        raise MalformedTransaction("unknown witness scope")
    scopes = WitnessScope(raw_scope)
    if WitnessScope.GLOBAL in scopes and scopes != WitnessScope.GLOBAL:
        raise MalformedTransaction("the global scope cannot be combined")
    contracts: tuple[bytes, ...] = ()
    groups: tuple[bytes, ...] = ()
    rules: tuple[bytes, ...] = ()
    if WitnessScope.CUSTOM_CONTRACTS in scopes:
        contracts = tuple(reader.take(20) for _ in range(reader.var_int(MAX_ATTRIBUTES)))
    if WitnessScope.CUSTOM_GROUPS in scopes:
        groups = tuple(_read_point(reader) for _ in range(reader.var_int(MAX_ATTRIBUTES)))
    if WitnessScope.WITNESS_RULES in scopes:
        rules = tuple(_read_rule(reader) for _ in range(reader.var_int(MAX_ATTRIBUTES)))
    return Signer(account, scopes, contracts, groups, rules)


def _read_point(reader: Reader) -> bytes:
    point = reader.take(33)
    if point[0] not in (2, 3):
        raise MalformedTransaction("a group key must be a compressed point")
    return point


def _read_rule(reader: Reader) -> bytes:
    start = reader.offset
    if reader.u8() not in (0, 1):  # Deny, Allow
        raise MalformedTransaction("unknown witness rule action")
    _read_condition(reader, _MAX_RULE_DEPTH)
    return reader.data[start : reader.offset]


def _read_condition(reader: Reader, depth: int) -> None:
    kind = reader.u8()
    if kind == 0x00:  # Boolean
        if reader.u8() > 1:
            raise MalformedTransaction("malformed witness condition")
    elif kind == 0x01:  # Not
        _nested(reader, depth, 1)
    elif kind in (0x02, 0x03):  # And, Or
        count = reader.var_int(MAX_ATTRIBUTES)
        if count == 0:
            raise MalformedTransaction("malformed witness condition")
        _nested(reader, depth, count)
    elif kind in (0x18, 0x28):  # ScriptHash, CalledByContract
        reader.take(20)
    elif kind in (0x19, 0x29):  # Group, CalledByGroup
        _read_point(reader)
    elif kind != 0x20:  # CalledByEntry
        raise MalformedTransaction("unknown witness condition")


def _nested(reader: Reader, depth: int, count: int) -> None:
    if depth <= 1:
        raise MalformedTransaction("witness condition nested too deep")
    for _ in range(count):
        _read_condition(reader, depth - 1)


def _read_attribute(reader: Reader) -> Attribute:
    kind = reader.u8()
    if kind == HighPriorityAttribute.TYPE:
        return HighPriorityAttribute()
    if kind == OracleResponseAttribute.TYPE:
        request_id = reader.u64()
        try:
            code = OracleResponseCode(reader.u8())
        except ValueError:
            raise MalformedTransaction("unknown oracle response code") from None
        result = reader.var_bytes(MAX_ORACLE_RESULT)
        if code is not OracleResponseCode.SUCCESS and result:
            raise MalformedTransaction("an oracle response that failed carries no result")
        return OracleResponseAttribute(request_id, code, result)
    if kind == NotValidBeforeAttribute.TYPE:
        return NotValidBeforeAttribute(reader.u32())
    if kind == ConflictsAttribute.TYPE:
        return ConflictsAttribute(reader.take(32))
    if kind == NotaryAssistedAttribute.TYPE:
        return NotaryAssistedAttribute(reader.u8())
    raise MalformedTransaction("unknown transaction attribute")


# serializing ---------------------------------------------------------------------------------------


def serialize_unsigned(tx: Transaction) -> bytes:
    """The unsigned part: what the hash covers."""
    out = bytearray(
        struct.pack("<BIqqI", tx.version, tx.nonce, tx.system_fee, tx.network_fee, tx.valid_until_block)
    )
    out += var_int(len(tx.signers))
    for signer in tx.signers:
        out += _signer_bytes(signer)
    out += var_int(len(tx.attributes))
    for attribute in tx.attributes:
        out += _attribute_bytes(attribute)
    out += var_bytes(tx.script)
    return bytes(out)


def serialize(tx: Transaction) -> bytes:
    """The whole transaction, as ``sendrawtransaction`` takes it."""
    out = bytearray(serialize_unsigned(tx))
    out += var_int(len(tx.witnesses))
    for witness in tx.witnesses:
        out += var_bytes(witness.invocation) + var_bytes(witness.verification)
    return bytes(out)


def _signer_bytes(signer: Signer) -> bytes:
    out = bytearray(signer.account) + bytes([int(signer.scopes)])
    if WitnessScope.CUSTOM_CONTRACTS in signer.scopes:
        out += var_int(len(signer.allowed_contracts)) + b"".join(signer.allowed_contracts)
    if WitnessScope.CUSTOM_GROUPS in signer.scopes:
        out += var_int(len(signer.allowed_groups)) + b"".join(signer.allowed_groups)
    if WitnessScope.WITNESS_RULES in signer.scopes:
        out += var_int(len(signer.rules)) + b"".join(signer.rules)
    return bytes(out)


def _attribute_bytes(attribute: Attribute) -> bytes:
    head = bytes([attribute.TYPE])
    match attribute:
        case OracleResponseAttribute(id=request_id, code=code, result=result):
            return head + struct.pack("<QB", request_id, int(code)) + var_bytes(result)
        case NotValidBeforeAttribute(height=height):
            return head + struct.pack("<I", height)
        case ConflictsAttribute(hash=conflict):
            return head + conflict
        case NotaryAssistedAttribute(n_keys=n_keys):
            return head + bytes([n_keys])
        case HighPriorityAttribute():
            return head


# hashes and witnesses ------------------------------------------------------------------------------


def tx_hash(tx: Transaction) -> bytes:
    """SHA-256 of the unsigned part, as serialized (``UInt256`` bytes, little-endian)."""
    return hashlib.sha256(serialize_unsigned(tx)).digest()


def hash_text(value: bytes) -> str:
    """A ``UInt160``/``UInt256`` as nodes print it: ``0x`` and the big-endian hex."""
    return "0x" + value[::-1].hex()


def signing_message(network_magic: int, tx: Transaction) -> bytes:
    """What a witness signs: ``u32le(magic) || hash`` (ECDSA over its SHA-256)."""
    return struct.pack("<I", network_magic) + tx_hash(tx)


def verification_script(public_key: bytes) -> bytes:
    """The single-signature verification script of a compressed secp256r1 public key."""
    if len(public_key) != 33 or public_key[0] not in (2, 3):
        raise MalformedTransaction("a Neo account key is a 33-byte compressed secp256r1 point")
    return push_data(public_key) + syscall(CHECK_SIG)


def account_of(public_key: bytes) -> bytes:
    """The account (script hash, ``UInt160`` bytes) of a single-signature key."""
    digest = hashlib.sha256(verification_script(public_key)).digest()
    return RIPEMD160.new(digest).digest()


def signature_witness(public_key: bytes, signature: bytes) -> Witness:
    """The witness of a single-signature account: push the 64-byte signature, then check it."""
    if len(signature) != 64:
        raise MalformedTransaction("a Neo signature is 64 bytes")
    return Witness(push_data(signature), verification_script(public_key))
