"""The enclave's operations: each takes validated request arguments and returns a JSON-able result."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from neo_service_layer.enclave import attestation
from neo_service_layer.enclave.clients import check_allowed
from neo_service_layer.enclave.compute.artifacts import ComputeEngine
from neo_service_layer.enclave.compute.ops import ComputeOps, ComputePolicy
from neo_service_layer.enclave.compute.pool import SandboxPool, worker_config
from neo_service_layer.enclave.crosschain import CrossChainSignOp, CrossChainSources
from neo_service_layer.enclave.evm_rpc import EvmJsonRpcReader
from neo_service_layer.enclave.evm_tx_signing import EvmTransactionSigning
from neo_service_layer.enclave.feeds import FeedRoundOp
from neo_service_layer.enclave.fetch import Fetcher
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.job_signing import JobSigning
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.migration import KeyMigration, MigrationPolicy, RecordToExport
from neo_service_layer.enclave.native_oracle import NativeOracleRespondOp
from neo_service_layer.enclave.neo_rpc import JsonRpcReader, NeoReader
from neo_service_layer.enclave.oracle import OracleFetchOp
from neo_service_layer.enclave.oracle_evm import EvmOracleFetchOp
from neo_service_layer.enclave.platforms import Platform
from neo_service_layer.enclave.randomness import RandomnessFulfilOp
from neo_service_layer.enclave.randomness_evm import EvmRandomnessFulfilOp
from neo_service_layer.enclave.sealing import Sealer, SealUse
from neo_service_layer.enclave.tenant_credentials import TenantCredentials
from neo_service_layer.enclave.tx_signing import TransactionSigning
from neo_service_layer.enclave.webhook_signing import WebhookSignOp
from neo_service_layer.enclave.wire.encoding import b64encode, pack_blobs
from neo_service_layer.enclave.wire.keys import (
    InvalidKeyRequest,
    KeyKind,
    KeyPolicy,
    Purpose,
    SignatureFormat,
    check_name,
)
from neo_service_layer.enclave.wire.protocol import (
    PROTOCOL_VERSION,
    Args,
    BadRequest,
    UnknownOp,
    key_info_to_wire,
    sealed_key_to_wire,
)

MAX_RANDOM_BYTES = 65536

Result = dict[str, Any]


def _enum[E: (KeyKind, Purpose, SignatureFormat)](kind: type[E], value: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise InvalidKeyRequest(f"unknown {kind.__name__} {value!r}") from None


class EnclaveOperations:
    """Dispatches an op name to its handler; handlers raise domain or protocol errors, never crash.

    Most handlers are synchronous (pure computation). Handlers that do I/O (``oracle_fetch``) are
    coroutine functions: ``dispatch`` then returns an awaitable, and the server awaits it, so one slow
    fetch does not hold up requests on other connections.
    """

    def __init__(
        self,
        platform: Platform,
        sealer: Sealer,
        keys: KeyStore,
        fetcher: Fetcher | None = None,
        migration: MigrationPolicy | None = None,
        credentials: TenantCredentials | None = None,
        neo_reader: NeoReader | None = None,
        transactions: TransactionSigning | None = None,
        compute: ComputePolicy | None = None,
        evm_transactions: EvmTransactionSigning | None = None,
        compute_cache: Path | None = None,
        compute_ca_file: Path | None = None,
        crosschain: CrossChainSources | None = None,
    ) -> None:
        self._platform = platform
        # No state path given (tests, tools): a credential key and settings in memory only.
        self._credentials = credentials if credentials is not None else TenantCredentials(sealer, None)
        self._sealer = sealer
        self._keys = keys
        self._migration = KeyMigration(platform, keys, migration or MigrationPolicy())
        self._ops: dict[str, Callable[[Args], Result]] = {
            "status": self.status,
            "create_key": self.create_key,
            "load_key": self.load_key,
            "public_key": self.public_key,
            "sign": self.sign,
            "sign_batch": self.sign_batch,
            "sign_batch_packed": self.sign_batch_packed,
            "rotate": self.rotate,
            "disable": self.disable,
            "enable": self.enable,
            "destroy": self.destroy,
            "seal": self.seal,
            "unseal": self.unseal,
            "random": self.random,
            "attest": self.attest,
            "migration_offer": self.migration_offer,
            "migration_export": self.migration_export,
            "migration_import": self.migration_import,
            "randomness_fulfil": RandomnessFulfilOp(keys),
            "randomness_evm_fulfil": EvmRandomnessFulfilOp(keys),
            "webhook_sign": WebhookSignOp(keys),
            "issue_api_key": self._credentials.issue_op,
            "revoke_api_key": self._credentials.revoke_op,
            "tenant_credentials": self._credentials.settings_op,
        }
        # No state path given (tests, tools): registered contracts and height marks in memory only.
        transactions = transactions if transactions is not None else TransactionSigning(sealer, keys, None)
        self._ops["sign_transaction"] = transactions.sign_transaction
        self._ops["allow_contracts"] = transactions.allow_contracts
        # No state path given (tests, tools): registered EVM contracts in memory only.
        evm = evm_transactions if evm_transactions is not None else EvmTransactionSigning(sealer, keys, None)
        self._ops["evm_sign_transaction"] = evm.evm_sign_transaction
        self._ops["allow_evm_contracts"] = evm.allow_evm_contracts
        jobs = JobSigning(sealer, keys, transactions.advance, transactions.limits)
        self._ops["automation_grant"] = jobs.grant
        self._ops["automation_sign"] = jobs.sign
        # No fetcher given (tests, tools): the strict guard, public HTTPS only.
        fetcher = fetcher if fetcher is not None else Fetcher(GuardPolicy())
        self._fetcher = fetcher
        self._async_ops: dict[str, Callable[[Args], Awaitable[Result]]] = {
            "oracle_fetch": OracleFetchOp(keys, sealer, fetcher),
            "oracle_evm_fetch": EvmOracleFetchOp(keys, sealer, fetcher),
            "feed_round": FeedRoundOp(keys, fetcher),
            # No node given (tests, tools): native Oracle requests cannot be read, so none is answered.
            "native_oracle_respond": NativeOracleRespondOp(keys, fetcher, neo_reader or JsonRpcReader(list)),
            # No sources given (tests, tools): no registered gateway, so no message is signed.
            "crosschain_sign": CrossChainSignOp(
                keys,
                crosschain or CrossChainSources(EvmJsonRpcReader(lambda: ([], None)), JsonRpcReader(list)),
                # without configured gateways: the contracts the cli registered as service "crosschain"
                lambda is_evm, chain: (
                    evm.registered(chain) if is_evm else transactions.registered(chain)
                ).get("crosschain"),
            ),
        }
        # No cache directory given (tests, tools): compiled functions go to a directory of this object's
        # own, removed with it (the worker processes read them from there).
        cache = compute_cache
        if cache is None:
            cache = Path(tempfile.mkdtemp(prefix="nsl-compute-"))
            weakref.finalize(self, shutil.rmtree, cache, True)
        compute = compute or ComputePolicy()
        self.compute_engine = ComputeEngine(sealer, cache)
        self._pool = SandboxPool(worker_config(sealer, cache, fetcher, compute_ca_file), compute.concurrency)
        compute_ops = ComputeOps(self.compute_engine, keys, sealer, self._pool, compute)
        self._async_ops["compute_load"] = compute_ops.load
        self._async_ops["compute_run"] = compute_ops.run

    async def close_connections(self) -> None:
        """Close the fetcher's kept-alive connections while the event loop still runs (on shutdown)."""
        await self._fetcher.close()

    def close(self) -> None:
        """Stop what runs beside the operations: the compute worker processes and the epoch ticker."""
        self._pool.close()
        self.compute_engine.close()

    def authorize(self, client: str | None, op: str, args: Args) -> None:
        """Refuse (``OperationNotAllowed``) an op, key owner or label not on ``client``'s list, and
        (``CredentialRequired``) an api key operation of an enforcing tenant without the tenant's key."""
        check_allowed(client, op, args)
        self._credentials.check_operation(client, op, args)

    def dispatch(self, op: str, args: Args) -> Result | Awaitable[Result]:
        """The result of a synchronous op, or an awaitable of it for an I/O op."""
        handler = self._ops.get(op)
        if handler is not None:
            return handler(args)
        async_handler = self._async_ops.get(op)
        if async_handler is None:
            raise UnknownOp(f"unknown op {op[:64]!r}")
        return async_handler(args)

    def status(self, args: Args) -> Result:
        mode = "simulation" if self._platform.name == "simulation" else "hardware"
        return {
            "platform": self._platform.name,
            "mode": mode,
            "protocol_version": PROTOCOL_VERSION,
            "loaded_keys": len(self._keys),
        }

    def create_key(self, args: Args) -> Result:
        kind = _enum(KeyKind, args.text("kind"))
        policy = KeyPolicy.from_dict(args.mapping("policy"))
        return sealed_key_to_wire(self._keys.create(kind, policy))

    def load_key(self, args: Args) -> Result:
        return key_info_to_wire(self._keys.load(args.text("key_id"), args.blob("sealed_record")))

    def public_key(self, args: Args) -> Result:
        return key_info_to_wire(self._keys.info(args.text("key_id"), args.opt_integer("version")))

    def _sign(self, args: Args, messages: list[bytes]) -> list[bytes]:
        return self._keys.sign(
            args.text("key_id"),
            messages,
            tenant=args.text("tenant"),
            purpose=_enum(Purpose, args.text("purpose")),
            fmt=_enum(SignatureFormat, args.text("format")),
            version=args.opt_integer("version"),
            network_magic=args.opt_integer("network_magic"),
        )

    def sign(self, args: Args) -> Result:
        return {"signature": b64encode(self._sign(args, [args.blob("message")])[0])}

    def sign_batch(self, args: Args) -> Result:
        return {"signatures": [b64encode(s) for s in self._sign(args, args.blob_list("messages"))]}

    def sign_batch_packed(self, args: Args) -> Result:
        return {"signatures": b64encode(pack_blobs(self._sign(args, args.packed_blobs("messages"))))}

    def rotate(self, args: Args) -> Result:
        return sealed_key_to_wire(self._keys.rotate(args.text("key_id"), args.text("tenant")))

    def disable(self, args: Args) -> Result:
        sealed = self._keys.disable(args.text("key_id"), args.text("tenant"))
        return {"keys": [sealed_key_to_wire(s) for s in sealed]}

    def enable(self, args: Args) -> Result:
        sealed = self._keys.enable(args.text("key_id"), args.text("tenant"))
        return {"keys": [sealed_key_to_wire(s) for s in sealed]}

    def destroy(self, args: Args) -> Result:
        self._keys.destroy(args.text("key_id"), args.text("tenant"))
        return {}

    def _context(self, args: Args) -> dict[str, str | int]:
        return {
            "tenant": check_name(args.text("tenant"), "tenant"),
            "label": check_name(args.text("label"), "label"),
        }

    def seal(self, args: Args) -> Result:
        blob = self._sealer.seal(SealUse.DATA, self._context(args), args.blob("plaintext"))
        return {"blob": b64encode(blob)}

    def unseal(self, args: Args) -> Result:
        plaintext = self._sealer.unseal(SealUse.DATA, self._context(args), args.blob("blob"))
        return {"plaintext": b64encode(plaintext)}

    def random(self, args: Args) -> Result:
        n = args.integer("n")
        if not 1 <= n <= MAX_RANDOM_BYTES:
            raise InvalidKeyRequest(f"n must be between 1 and {MAX_RANDOM_BYTES}")
        return {"bytes": b64encode(secrets.token_bytes(n))}

    def attest(self, args: Args) -> Result:
        keys = self._keys.current_infos(args.text_list("key_ids"))
        return {"report": attestation.build_report(self._platform, keys, args.blob("nonce"))}

    def migration_offer(self, args: Args) -> Result:
        return {"offer": self._migration.offer()}

    def migration_export(self, args: Args) -> Result:
        records = []
        for item in args.opt_list("records"):
            if not isinstance(item, dict):
                raise BadRequest("field 'records' must be a list of objects")
            record = Args(item)
            records.append(
                RecordToExport(
                    record.text("key_id"), record.opt_integer("version"), record.blob("sealed_record")
                )
            )
        return self._migration.export(args.mapping("offer"), records)

    def migration_import(self, args: Args) -> Result:
        imported = self._migration.import_bundle(args.mapping("bundle"))
        return {"keys": [sealed_key_to_wire(s) for s in imported]}
