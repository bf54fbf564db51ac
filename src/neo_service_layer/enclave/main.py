"""Starting the enclave process from its settings: platform, sealing, key store, RPC server, signals."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import ssl
from dataclasses import replace
from pathlib import Path

from neo_service_layer.enclave.clients import LEGACY, parse_clients
from neo_service_layer.enclave.compute.limits import DEFAULT_MAXIMA, MIB
from neo_service_layer.enclave.compute.ops import ComputePolicy
from neo_service_layer.enclave.crosschain import CrossChainSources
from neo_service_layer.enclave.evm_rpc import EvmJsonRpcReader, evm_node
from neo_service_layer.enclave.evm_tx_rules import EvmTxLimits
from neo_service_layer.enclave.evm_tx_signing import EvmTransactionSigning
from neo_service_layer.enclave.fetch import Fetcher, default_ssl_context
from neo_service_layer.enclave.fetch_guard import GuardPolicy
from neo_service_layer.enclave.handlers import EnclaveOperations
from neo_service_layer.enclave.keystore import KeyStore
from neo_service_layer.enclave.migration import MigrationPolicy
from neo_service_layer.enclave.neo_rpc import JsonRpcReader, node_urls
from neo_service_layer.enclave.platforms import (
    GramineSgxPlatform,
    Platform,
    PlatformError,
    SimulationPlatform,
)
from neo_service_layer.enclave.revocations import Revocations
from neo_service_layer.enclave.sealing import Sealer
from neo_service_layer.enclave.server import EnclaveServer, SocketInUse
from neo_service_layer.enclave.settings import (
    EnclaveSettings,
    TeePlatform,
)
from neo_service_layer.enclave.tenant_credentials import TenantCredentials
from neo_service_layer.enclave.tx_rules import TxLimits
from neo_service_layer.enclave.tx_signing import TransactionSigning

log = logging.getLogger(__name__)


class EnclaveStartupError(Exception):
    """The enclave refuses to start as configured; the message says why (never a secret)."""


def build_platform(settings: EnclaveSettings) -> Platform:
    """The configured platform; simulation in production only with NSL_TEE_ALLOW_SIMULATION=true."""
    try:
        if settings.tee_platform is TeePlatform.SIMULATION:
            if settings.is_production and not settings.tee_allow_simulation:
                raise EnclaveStartupError(
                    "NSL_TEE_PLATFORM=simulation in production needs NSL_TEE_ALLOW_SIMULATION=true"
                )
            return SimulationPlatform(settings.data_dir)
        return GramineSgxPlatform(settings.gramine_attestation_dir)
    except PlatformError as exc:
        raise EnclaveStartupError(str(exc)) from None


def migration_policy(settings: EnclaveSettings) -> MigrationPolicy:
    """The key-migration peers this enclave trusts, from its own (measured, under Gramine) config."""
    if settings.migration_accept_simulation and settings.is_production and not settings.tee_allow_simulation:
        raise EnclaveStartupError(
            "NSL_MIGRATION_ACCEPT_SIMULATION=true in production needs NSL_TEE_ALLOW_SIMULATION=true"
        )
    return MigrationPolicy(
        allowed_measurements=frozenset(m.lower() for m in settings.migration_allowed_measurements),
        accept_simulation=settings.migration_accept_simulation,
        simulation_platform_keys=frozenset(
            bytes.fromhex(k) for k in settings.migration_simulation_platform_keys
        ),
    )


def tx_limits(settings: EnclaveSettings) -> TxLimits:
    """The bounds on transactions the sender key signs (``sign_transaction``)."""
    return TxLimits(
        max_system_fee=settings.tx_max_system_fee,
        max_network_fee=settings.tx_max_network_fee,
        valid_until_window=settings.tx_valid_until_window,
    )


def evm_tx_limits(settings: EnclaveSettings) -> EvmTxLimits:
    """The bounds on transactions the EVM sender key signs (``evm_sign_transaction``)."""
    return EvmTxLimits(max_gas=settings.evm_tx_max_gas, max_fee_per_gas=settings.evm_tx_max_fee_per_gas)


def crosschain_sources(settings: EnclaveSettings) -> CrossChainSources:
    """What ``crosschain_sign`` reads (its own EVM and N3 nodes) and the registered gateways."""

    def gateway(text: str | None, *, n3: bool) -> bytes | None:
        if text is None:
            return None
        raw = bytes.fromhex(text[2:])
        return raw[::-1] if n3 else raw  # an N3 script hash as the NeoVM holds it

    return CrossChainSources(
        evm=EvmJsonRpcReader(
            lambda: evm_node(settings.evm_rpc_urls, settings.evm_chain_id, settings.data_dir)
        ),
        n3=JsonRpcReader(
            lambda: node_urls(settings.neo_rpc_urls, settings.neo_local_rpc_port, settings.data_dir)
        ),
        evm_gateway=gateway(settings.xmsg_evm_gateway, n3=False),
        n3_gateway=gateway(settings.xmsg_n3_gateway, n3=True),
        evm_confirmations=settings.evm_confirmations,
        n3_confirmations=settings.xmsg_n3_confirmations,
    )


def compute_policy(settings: EnclaveSettings) -> ComputePolicy:
    """The operator's maxima per compute run; a limit a function does not name defaults to the lower of
    ``DEFAULT_LIMITS`` and the maximum."""
    maxima = replace(
        DEFAULT_MAXIMA,
        fuel=settings.compute_max_fuel,
        memory_bytes=settings.compute_max_memory_mb * MIB,
        wall_ms=settings.compute_max_wall_ms,
        fetches=settings.compute_max_fetches,
        result_bytes=settings.compute_max_result_bytes,
    )
    return ComputePolicy(maxima=maxima, concurrency=settings.compute_concurrency)


def build_fetcher(settings: EnclaveSettings) -> Fetcher:
    """The oracle's fetcher: the SSRF guard's allow-list and the CA bundle from the settings."""
    policy = GuardPolicy.of(settings.oracle_allow_hosts, settings.oracle_allow_http)
    try:
        ssl_context = default_ssl_context(settings.oracle_ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise EnclaveStartupError(f"NSL_ORACLE_CA_FILE cannot be loaded: {exc}") from None
    return Fetcher(policy, ssl_context=ssl_context)


def build_server(settings: EnclaveSettings, tcp_address: tuple[str, int] | None = None) -> EnclaveServer:
    """Everything the enclave process holds, wired together (no socket bound yet).

    ``tcp_address`` (loopback host, port) replaces the Unix socket; default ``NSL_ENCLAVE_TCP``.
    """
    credentials = client_tokens(settings)
    platform = build_platform(settings)
    try:
        sealer = Sealer(platform.sealing_secret())
    except (PlatformError, ValueError) as exc:
        raise EnclaveStartupError(str(exc)) from None
    state_dir = Path(settings.data_dir) / "enclave"
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    revocations = Revocations(
        sealer, state_dir / "revocations.sealed", grace_seconds=settings.key_destruction_grace_seconds
    )
    keys = KeyStore(sealer, revocations)
    if isinstance(platform, SimulationPlatform):
        (state_dir / "platform.pub").write_text(platform.platform_public_key.hex() + "\n")
    operations = EnclaveOperations(
        platform,
        sealer,
        keys,
        fetcher=build_fetcher(settings),
        migration=migration_policy(settings),
        credentials=TenantCredentials(sealer, state_dir / "credentials.sealed"),
        transactions=TransactionSigning(sealer, keys, state_dir / "transactions.sealed", tx_limits(settings)),
        neo_reader=JsonRpcReader(
            lambda: node_urls(settings.neo_rpc_urls, settings.neo_local_rpc_port, settings.data_dir)
        ),
        compute=compute_policy(settings),
        evm_transactions=EvmTransactionSigning(
            sealer, keys, state_dir / "evm_transactions.sealed", evm_tx_limits(settings)
        ),
        compute_cache=state_dir / "compute",
        compute_ca_file=settings.oracle_ca_file,
        crosschain=crosschain_sources(settings),
    )
    tcp = tcp_address if tcp_address is not None else settings.enclave_tcp_address
    return EnclaveServer(operations, credentials, settings.effective_enclave_socket, tcp)


def client_tokens(settings: EnclaveSettings) -> dict[str, bytes]:
    """Each client's token by name, from NSL_ENCLAVE_CLIENTS; the legacy single token in development.

    The single ``NSL_ENCLAVE_TOKEN`` (every operation, one secret for all processes) is accepted only
    without NSL_ENCLAVE_CLIENTS and outside production, and logged as a warning.
    """
    if settings.enclave_clients is not None and settings.enclave_clients.get_secret_value().strip():
        try:
            clients = parse_clients(json.loads(settings.enclave_clients.get_secret_value()))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError; never echo the value
            message = str(exc) if not isinstance(exc, json.JSONDecodeError) else "it is not JSON"
            raise EnclaveStartupError(f"NSL_ENCLAVE_CLIENTS cannot be used: {message}") from None
        if settings.enclave_token is not None and settings.enclave_token.get_secret_value():
            log.warning("NSL_ENCLAVE_TOKEN is ignored: NSL_ENCLAVE_CLIENTS names the clients")
        log.info("enclave clients", extra={"clients": sorted(clients)})
        return {name: token.encode() for name, token in clients.items()}
    if settings.enclave_token is None or not settings.enclave_token.get_secret_value():
        raise EnclaveStartupError(
            "NSL_ENCLAVE_CLIENTS is not set, and NSL_ENCLAVE_TOKEN is not set either (the single "
            "development token); the enclave will not serve without them"
        )
    if settings.is_production:
        raise EnclaveStartupError(
            "NSL_ENCLAVE_CLIENTS is not set: in production each host process needs its own token "
            "(the single NSL_ENCLAVE_TOKEN is for development and tests only)"
        )
    log.warning(
        "enclave serves a single shared token (NSL_ENCLAVE_TOKEN) with every operation: development "
        "only; set NSL_ENCLAVE_CLIENTS for per-client tokens and operation lists"
    )
    return {LEGACY: settings.enclave_token.get_secret_value().encode()}


async def serve(server: EnclaveServer) -> None:
    """Serve until SIGTERM or SIGINT, then close the socket and remove its file."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
        await stop.wait()
    except SocketInUse as exc:
        raise EnclaveStartupError(str(exc)) from None
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await server.close()
        log.info("enclave stopped")


def run_enclave(settings: EnclaveSettings, tcp_address: tuple[str, int] | None = None) -> None:
    """Run the enclave in the foreground until SIGTERM/SIGINT; raises ``EnclaveStartupError``.

    ``tcp_address`` (loopback host, port) replaces the Unix socket, as ``NSL_ENCLAVE_TCP`` does; needed
    under Gramine SGX.
    """
    asyncio.run(serve(build_server(settings, tcp_address)))
