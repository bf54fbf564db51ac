"""The console's bundled files: every one ships in the wheel, and none uses what its rules forbid."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path, PurePosixPath

import neo_service_layer

PACKAGE = Path(neo_service_layer.__file__).parent
STATIC = PACKAGE / "kernel" / "console" / "static"
PYPROJECT = PACKAGE.parents[1] / "pyproject.toml"
#: markup from strings, eval, long-lived storage, inline handlers: the CSP or the token rules forbid them
FORBIDDEN = re.compile(
    r"innerHTML|outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function|localStorage"
    r"|setTimeout\(\s*['\"`]|\son[a-z]+="
)


def test_every_console_file_is_package_data() -> None:
    globs = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]["neo_service_layer"]
    files = [PurePosixPath(p.relative_to(PACKAGE).as_posix()) for p in STATIC.rglob("*") if p.is_file()]
    assert PurePosixPath("kernel/console/static/index.html") in files
    unshipped = [str(f) for f in files if not any(f.full_match(g) for g in globs)]
    assert unshipped == []


def _code(path: Path) -> str:
    """The script without its whole-line comments (which may name what the code must not do)."""
    lines = path.read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith(("//", "/*", "*")))


def test_no_console_script_builds_markup_from_strings_evaluates_code_or_uses_local_storage() -> None:
    offending = {
        str(path.relative_to(STATIC)): match.group(0)
        for path in STATIC.rglob("*.js")
        for match in [FORBIDDEN.search(_code(path))]
        if match
    }
    assert offending == {}


def test_the_shell_loads_only_its_own_files() -> None:
    html = (STATIC / "index.html").read_text()
    assert "<style" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None  # no inline script
    references = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert references
    for reference in references:
        assert "//" not in reference, reference  # no other origin, no CDN
        assert (STATIC / reference).is_file(), reference
