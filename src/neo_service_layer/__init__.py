"""Neo Service Layer: trusted off-chain services for Neo N3 smart contracts."""

__version__ = "0.1.0"
