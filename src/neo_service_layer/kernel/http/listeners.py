"""A listening socket of its own for each API process, all on one address (``SO_REUSEPORT``).

uvicorn's supervisor binds one socket and every API process accepts from it; the process that wakes
first takes every pending connection. Measured with two processes and 32 connections opened at once:
splits of 18 / 16, 17 / 17 and 26 / 8, and runs at one process's rate (``bench/RESULTS.md``). With a
socket per process the kernel spreads new connections over the processes by a hash of their addresses.
The price: a connection goes to a busy process as often as to an idle one, and the connections waiting
in a process's queue when it dies are reset.

The supervisor holds the address with a socket that never listens, so the port stays ours while
processes come and go. The supervisor hands its sockets to each process it starts (pickled by
``multiprocessing``); :class:`PerProcessListener` pickles as "bind the same address", so each process
unpickles a socket of its own instead of a copy of the supervisor's.
"""

from __future__ import annotations

import socket
from typing import Any


class PerProcessListener(socket.socket):
    """The supervisor's hold on the address; a process it starts gets its own socket on it."""

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return bind_listener, (self.family, self.getsockname())


def reserve(host: str, port: int) -> PerProcessListener:
    """Bind ``host:port`` for the API processes, refused (``OSError``) when anything else listens there.

    A plain bind comes first: a socket with ``SO_REUSEPORT`` would share the port with a listener left
    behind by an earlier run of the same user instead of failing.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        address = probe.getsockname()
    held = PerProcessListener(family, socket.SOCK_STREAM)
    try:
        _share(held)
        held.bind(address)  # port 0: the probe's port, so that every process binds the same one
    except OSError:
        held.close()
        raise
    return held


def bind_listener(family: socket.AddressFamily, address: tuple[Any, ...]) -> socket.socket:
    """A socket of this process on ``address``, next to the others (uvicorn makes it listen)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        _share(sock)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _share(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
