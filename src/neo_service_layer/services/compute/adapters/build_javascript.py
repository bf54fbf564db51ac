"""Builds a tenant's JavaScript function into a component with componentize-js (run by Node.js).

The user's ES module becomes ``function.js``; next to it go the bundled ``nsl.js`` helper (the global
``nsl``) and the generated ``entry.js`` (the WIT ``run`` export around the user's ``run``), which
componentize-js bundles with its relative imports. ``node --check`` finds syntax errors in well under a
second, before the slow build.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil

from neo_service_layer.services.compute.adapters.build_common import (
    GUEST_DIR,
    PACKAGE_DIR,
    BuildFailed,
    BuildSettings,
    Workspace,
    marked_error,
    read_component,
    run_tool,
    tail,
    workspace,
)

COMPONENTIZE_JS_VERSION = "0.23.0"
# componentize-js 0.23.0 imports preview2-shim without declaring it as a dependency.
PREVIEW2_SHIM_VERSION = "0.25.0"
NPM_PACKAGES = (
    f"@bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION}",
    f"@bytecodealliance/preview2-shim@{PREVIEW2_SHIM_VERSION}",
)
INSTALL = f"npm install --prefix .tools {' '.join(NPM_PACKAGES)}"
USER_FILE = "function.js"
OUTPUT = "function.wasm"
SCRIPT = "componentize.mjs"
CHECK_COPY = "function.mjs"  # what `node --check` reads: the .mjs name makes Node parse an ES module
NO_RUN = f"{USER_FILE} exports no function run(input): add `export function run(input) {{ ... }}`"


def _node(settings: BuildSettings) -> str:
    found = shutil.which(settings.node)
    if found is None:
        raise BuildFailed("the JavaScript builder needs Node.js 20 or later on this server (install nodejs)")
    return found


def _check_tools(settings: BuildSettings) -> None:
    for package in ("componentize-js", "preview2-shim"):
        if not (settings.tools_dir / "@bytecodealliance" / package / "package.json").is_file():
            raise BuildFailed(f"the JavaScript builder is not installed on this server ({INSTALL})")


_SYNTAX_WHERE = re.compile(r"function\.mjs:(\d+)")


async def _check_syntax(node: str, space: Workspace, settings: BuildSettings) -> None:
    """``node --check`` on a copy named .mjs (so Node parses it as an ES module)."""
    result = await run_tool([node, "--check", str(space.tmp / CHECK_COPY)], space, settings, "Node.js")
    if result.returncode == 0:
        return
    where = _SYNTAX_WHERE.search(result.output)
    line = f" line {where.group(1)}" if where else ""
    errors = [text.strip() for text in result.output.splitlines() if re.match(r"\s*\w*Error:", text)]
    detail = errors[0] if errors else tail(result.output, 5)
    detail = detail.removeprefix("SyntaxError:").strip()
    raise BuildFailed(f"{USER_FILE}{line}: syntax error: {detail}"[:500])


# How componentize-js reports an exception thrown by a module's top level while it initialises.
_INIT_ERROR = re.compile(r"^\s*(function\.js|nsl\.js|entry\.js):(\d+):\d+ (.+)$", re.MULTILINE)


def _failure(output: str, settings: BuildSettings) -> BuildFailed:
    if (message := marked_error(output)) is not None:
        return BuildFailed(message)
    if (found := _INIT_ERROR.search(output)) is not None:
        name, line, error = found.groups()
        return BuildFailed(f"{name} line {line}: the module's top level failed: {error.strip()}"[:500])
    output = output.replace(str(settings.tools_dir), "<tools>")
    return BuildFailed(f"the JavaScript build failed:\n{tail(output)}")


def _write_sources(space: Workspace, source: str) -> None:
    (space.src / USER_FILE).write_text(source, encoding="utf-8")
    (space.tmp / CHECK_COPY).write_text(source, encoding="utf-8")
    for name in ("nsl.js", "entry.js"):
        shutil.copyfile(GUEST_DIR / name, space.src / name)
    # The component's WIT world has no package.json of its own; mark the sources as ES modules.
    (space.src / "package.json").write_text(json.dumps({"type": "module", "private": True}))
    shutil.copyfile(PACKAGE_DIR / SCRIPT, space.root / SCRIPT)


async def build_javascript(source: str, settings: BuildSettings) -> bytes:
    """The component for one JavaScript function; BuildFailed says why there is none."""
    if not re.search(r"\brun\b", source):
        raise BuildFailed(NO_RUN)
    node = _node(settings)
    _check_tools(settings)
    async with workspace(settings) as space:
        await asyncio.to_thread(_write_sources, space, source)
        await _check_syntax(node, space, settings)
        argv = [
            node,
            str(space.root / SCRIPT),
            str(settings.tools_dir),
            str(space.src / "entry.js"),
            str(space.wit),
            str(space.out / OUTPUT),
        ]
        result = await run_tool(argv, space, settings, "Node.js")
        if result.returncode != 0:
            raise _failure(result.output, settings)
        return await read_component(space, OUTPUT, "componentize-js")
