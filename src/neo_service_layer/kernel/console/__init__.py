"""The web console: static ES modules served under ``/console`` that only call the API.

No server-side logic lives here: the console signs in through ``/api/v1/auth/token`` like any client,
so the API's scopes and tenant checks are the console's too.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

CONSOLE_PATH = "/console"
STATIC_DIR = Path(__file__).parent / "static"


def mount_console(app: FastAPI) -> None:
    """Serve the bundled console files at ``/console/`` (``index.html`` for the directory itself)."""
    app.mount(CONSOLE_PATH, StaticFiles(directory=STATIC_DIR, html=True), name="console")
