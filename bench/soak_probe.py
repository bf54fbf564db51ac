"""What ``bench.soak`` samples of each process (Linux ``/proc``) and how it judges growth.

Per process: resident memory (``VmRSS``), open file descriptors, and database connections: for
PostgreSQL, the process's TCP sockets whose peer is the database port (matched through the socket inodes
of ``/proc/PID/fd`` and ``/proc/net/tcp*``), beside the database's own count in ``pg_stat_activity``;
for SQLite, the descriptors open on the database files (``.db``, ``-wal``, ``-shm``).
"""

from __future__ import annotations

import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Reading:
    rss_kb: int
    fds: int
    db: int  # database connections (PostgreSQL) or descriptors on the database files (SQLite)


@dataclass(slots=True)
class Sample:
    seconds: float  # since the open-loop phase began
    processes: dict[str, Reading]
    pg_connections: int | None  # pg_stat_activity rows of the database (every client, this script too)
    http_done: int
    http_errors: int
    chain_sent: int
    chain_answered: int
    p99_ms: float  # HTTP latency, 99th percentile, of the operations answered since the last sample
    loadavg: float  # the machine's 1-minute load average (the load generator and others share it)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _fd_targets(pid: int) -> list[str]:
    found = []
    directory = f"/proc/{pid}/fd"
    for name in os.listdir(directory):
        try:
            found.append(os.readlink(f"{directory}/{name}"))
        except OSError:  # closed between listing and reading
            continue
    return found


def fd_kinds(pid: int, data_dir: str) -> Counter[str]:
    """Open descriptors by kind: ``socket``, ``pipe``, ``anon_inode:...`` or the file's path (the data
    directory shown as ``<data>``, digits as ``N``): what differs between two readings says what grew."""
    kinds = Counter[str]()
    for target in _fd_targets(pid):
        if target.startswith(("socket:", "pipe:")):
            kinds[target.partition(":")[0]] += 1
        else:
            kinds[re.sub(r"\d+", "N", target.replace(data_dir, "<data>"))] += 1
    return kinds


def _sockets_to_port(port: int) -> set[str]:
    """Inodes of the TCP sockets on this machine whose remote end is ``port`` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[2].rpartition(":")[2], 16) == port:
                inodes.add(fields[9])
    return inodes


def read(pid: int, *, pg_port: int | None, db_file: str | None) -> Reading:
    targets = _fd_targets(pid)
    if pg_port is not None:
        peers = _sockets_to_port(pg_port)
        db = sum(1 for t in targets if t.startswith("socket:[") and t[8:-1] in peers)
    elif db_file is not None:
        db = sum(1 for t in targets if t.startswith(db_file))
    else:
        db = 0
    return Reading(rss_kb(pid), len(targets), db)


@dataclass(frozen=True, slots=True)
class Growth:
    """One quantity of one process: first window after warm-up against the last window."""

    first_mean: float
    last_mean: float
    first_max: int
    last_min: int
    overall_max: int

    @property
    def percent(self) -> float:
        return 100.0 * (self.last_mean - self.first_mean) / self.first_mean if self.first_mean else 0.0

    @property
    def grew(self) -> bool:
        """Every reading of the last window above every reading of the first: a count that leaks shows
        so, while one that follows the load up and down (sockets in flight) does not."""
        return self.last_min > self.first_max


@dataclass(slots=True)
class Windows:
    """The samples of the first and the last window of the open-loop phase (after ``warmup`` s)."""

    warmup: float
    window: float
    total: float
    first: list[Sample] = field(default_factory=list)
    last: list[Sample] = field(default_factory=list)

    def split(self, samples: list[Sample]) -> None:
        self.first = [s for s in samples if self.warmup <= s.seconds <= self.warmup + self.window]
        self.last = [s for s in samples if s.seconds >= self.total - self.window]

    def growth(self, process: str, what: str, samples: list[Sample]) -> Growth:
        def values(chosen: list[Sample]) -> list[int]:
            return [getattr(s.processes[process], what) for s in chosen if process in s.processes]

        first, last, every = values(self.first), values(self.last), values(samples)
        return Growth(statistics.fmean(first), statistics.fmean(last), max(first), min(last), max(every))

    def pg_growth(self, samples: list[Sample]) -> Growth | None:
        def values(chosen: list[Sample]) -> list[int]:
            return [s.pg_connections for s in chosen if s.pg_connections is not None]

        first, last, every = values(self.first), values(self.last), values(samples)
        if not first or not last:
            return None
        return Growth(statistics.fmean(first), statistics.fmean(last), max(first), min(last), max(every))
