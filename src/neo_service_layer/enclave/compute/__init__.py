"""Confidential compute inside the enclave: tenants' WebAssembly functions run under wasmtime with fuel,
memory, time, fetch and result limits, and only the host functions of ``nsl:compute/host``."""
