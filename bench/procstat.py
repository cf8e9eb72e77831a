"""CPU time of local processes from /proc: a server's workers, a database's PostgreSQL backends.

Shared by the benches that count CPU per answer (``antigen_load.py``, ``capacity.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (the fields after the name)
    return total / TICK


def children(root: int) -> list[int]:
    found = [root]
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == root:
            found.append(pid)
    return found


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL backends serving ``database`` (their title names it); the shared WAL writer and
    checkpointer, which other databases on the server use too, are left out."""
    pids = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
                continue
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f" {database} " in title:
            pids.append(int(pid))
    return pids
