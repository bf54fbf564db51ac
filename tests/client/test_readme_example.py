"""The client README's five-minute example, run as written (a fresh interpreter, the documented
environment variables) against the live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from nsl_client.calls import OPERATIONS
from tests.client.live import Live

README = Path(__file__).parents[2] / "clients" / "python" / "README.md"


def five_minute_example() -> str:
    """The first ``python`` block after the "Five minutes" heading."""
    text = README.read_text()
    section = text.split("## Five minutes", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the README has no five-minute example"
    return match.group(1)


def test_the_five_minute_example_runs_as_written(live: Live, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(five_minute_example())
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSL_")}
    env.update(NSL_URL=live.base_url, NSL_API_KEY=live.api_key)
    ran = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in ran.stdout.splitlines())
    assert lines["tenant"] == live.tenant_id
    assert len(eval(lines["words"])) == 3
    assert int(lines["functions"]) >= 0
    assert lines["problem"].startswith("404 ")


def test_the_readme_lists_every_operation_the_client_covers() -> None:
    section = README.read_text().split("## What it covers", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)`", section))
    assert sorted(set(OPERATIONS) - listed) == []
