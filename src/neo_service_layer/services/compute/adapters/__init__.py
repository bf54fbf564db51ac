"""Adapters of the compute service: builders that turn function source into WebAssembly components."""
