"""``python -m neo_service_layer`` is ``nsl``."""

from neo_service_layer.entry import main

main()
