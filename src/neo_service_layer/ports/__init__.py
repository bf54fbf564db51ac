"""Ports: the Protocols services need, implemented by adapters. One module per concern."""
