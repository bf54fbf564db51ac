"""``python -m neo_service_layer`` is ``nsl``."""

from neo_service_layer.cli import app

app()
