"""Routers, one module per service."""
