"""Run a Python snippet in a fresh interpreter and read the JSON it prints last: for what a test process
cannot show once it has loaded a module or set a process-wide provider."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any


def run_json(script: str, *args: str, env: Mapping[str, str] | None = None) -> Any:
    """The last line of ``python -c script args...`` as JSON (``check``: a failure raises)."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
