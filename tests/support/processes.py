"""Processes seen from /proc: a service's children (its relay), and whether one is gone."""

from __future__ import annotations

import os
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
