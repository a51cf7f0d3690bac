"""Processes seen from /proc: a service's children (its relay), and whether one is gone."""

from __future__ import annotations

import os
import zlib
from pathlib import Path


def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def child_pids(parent: int) -> list[int]:
    """The live (not zombie) child processes of `parent`."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(entry)) and int(fields[1]) == parent and fields[0] != "Z":
            children.append(int(entry))
    return children


def dead(pid: int) -> bool:
    """Gone, or killed and not yet reaped by whoever adopted it."""
    fields = _stat_fields(pid)
    return fields is None or fields[0] == "Z"


def owner_of_local_port(port: int, candidates: dict[str, int]) -> str | None:
    """Which of `candidates` (name -> pid) holds a TCP socket whose local port is `port`, itself or
    through a child (a service's relay runs as its child)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    for name, parent in candidates.items():
        for pid in (parent, *child_pids(parent)):
            fd_dir = Path(f"/proc/{pid}/fd")
            try:
                links = {os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir)}
            except OSError:
                continue
            if any(f"socket:[{inode}]" in links for inode in inodes):
                return name
    return None


# The PostgreSQL session holding a producer's relay lock (messaging/relay.py), by its client port.
RELAY_LOCK_HOLDER = (
    "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = 0 "
    "AND l.objid::bigint = :key AND a.datname = :db"
)


def relay_lock_key(producer: str) -> int:
    return zlib.crc32(f"outbox-relay:{producer}".encode())
