"""Builds a tenant's Python function into a component with componentize-py.

The user's module becomes ``function.py``; next to it go the bundled ``nsl.py`` helper and the generated
``nsl_entry.py`` (the WIT ``run`` export around the user's ``run``). componentize-py imports them once
at build time, so a module that fails to import or lacks ``run`` fails the build with a clear message.
"""

from __future__ import annotations

import ast
import asyncio
import re
import shutil
import sys
from pathlib import Path

from neo_service_layer.services.compute.adapters.build_common import (
    GUEST_DIR,
    BuildFailed,
    BuildSettings,
    Workspace,
    marked_error,
    read_component,
    run_tool,
    tail,
    workspace,
)

COMPONENTIZE_PY_VERSION = "0.25.1"
INSTALL = f"pip install componentize-py=={COMPONENTIZE_PY_VERSION}"
USER_FILE = "function.py"
ENTRY_MODULE = "nsl_entry"
OUTPUT = "function.wasm"


def _tool(settings: BuildSettings) -> str:
    if settings.componentize_py is not None:
        found = shutil.which(settings.componentize_py)
    else:
        beside = Path(sys.executable).parent / "componentize-py"
        found = str(beside) if beside.is_file() else shutil.which("componentize-py")
    if found is None:
        raise BuildFailed(f"the Python builder is not installed on this server ({INSTALL})")
    return found


def _binds_run(tree: ast.Module) -> bool | None:
    """Whether the module's top level binds ``run``; None when only running it can tell (a star
    import, or ``run`` named inside an if/try/with block)."""
    unknown = False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == "run":
                return True
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    unknown = True
                elif (alias.asname or alias.name.split(".")[0]) == "run":
                    return True
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(n, ast.Name) and n.id == "run" for t in targets for n in ast.walk(t)):
                return True
        elif any(isinstance(n, ast.Name) and n.id == "run" for n in ast.walk(node)):
            unknown = True
    return None if unknown else False


def check_python(source: str) -> None:
    """Syntax and the presence of ``run``, checked without running anything (the parser only)."""
    try:
        tree = ast.parse(source, filename=USER_FILE)
    except SyntaxError as error:
        where = f" line {error.lineno}" if error.lineno else ""
        text = f": {error.text.strip()}" if error.text and error.text.strip() else ""
        raise BuildFailed(f"{USER_FILE}{where}: syntax error: {error.msg}{text}"[:500]) from None
    except (ValueError, MemoryError, RecursionError) as error:
        raise BuildFailed(f"{USER_FILE} cannot be parsed: {type(error).__name__}") from None
    if _binds_run(tree) is False:
        raise BuildFailed(f"{USER_FILE} defines no function run(input): add `def run(input): ...`")


_TRACE_LINE = re.compile(r'File "[^"]*?(function\.py)", line (\d+)')


def _failure(output: str) -> BuildFailed:
    if (message := marked_error(output)) is not None:
        return BuildFailed(message)
    # An error the entry did not catch (it should catch all): show where in function.py, if anywhere.
    found = _TRACE_LINE.findall(output)
    where = f" ({found[-1][0]} line {found[-1][1]})" if found else ""
    return BuildFailed(f"the Python build failed{where}:\n{tail(output)}")


def _write_sources(space: Workspace, source: str) -> None:
    (space.src / USER_FILE).write_text(source, encoding="utf-8")
    for name in ("nsl.py", f"{ENTRY_MODULE}.py"):
        shutil.copyfile(GUEST_DIR / name, space.src / name)
    # componentize-py adds a site-packages directory to the guest's path (and maps it in while it runs
    # the module at build time): that of $VIRTUAL_ENV if set, else of `python3` on PATH. An empty one
    # in the workspace (VIRTUAL_ENV=venv) keeps the host's installed packages out of tenant code's reach.
    (space.root / "venv" / "lib" / "site-packages").mkdir(parents=True)


async def build_python(source: str, settings: BuildSettings) -> bytes:
    """The component for one Python function; BuildFailed says why there is none."""
    check_python(source)
    tool = _tool(settings)
    async with workspace(settings) as space:
        await asyncio.to_thread(_write_sources, space, source)
        argv = [
            tool,
            "-d",
            str(space.wit),
            "-w",
            "function",
            "componentize",
            "-p",
            str(space.src),
            ENTRY_MODULE,
            "-o",
            str(space.out / OUTPUT),
        ]
        env = {"VIRTUAL_ENV": str(space.root / "venv")}
        result = await run_tool(argv, space, settings, "componentize-py", env)
        if result.returncode != 0:
            raise _failure(result.output)
        return await read_component(space, OUTPUT, "componentize-py")
