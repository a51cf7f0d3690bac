"""What the vote benchmark watches from outside: CPU per process (from /proc), `vote.recorded`
as a plain kombu subscriber sees it, and PostgreSQL's sessions and locks while votes run."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
CLIENT_BACKEND = re.compile(r"\S+\(\d+\)|\[local\]")


# CPU


def _stat(pid: int | str) -> tuple[str, float, float] | None:
    """(comm, own CPU seconds, CPU seconds of reaped children) of a process; None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17.
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return comm, (utime + stime) / TICK, (cutime + cstime) / TICK


def _cmdline(pid: int | str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _pids() -> list[str]:
    return [p for p in os.listdir("/proc") if p.isdigit()]


def _ppid(pid: str) -> int:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(text[text.rindex(")") + 2 :].split()[1])


class CpuMeter:
    """CPU seconds by group: the stack's service processes by name, RabbitMQ, and PostgreSQL
    split into the stack's own backends (by database), its background processes, and the rest.

    A reading is per process; `delta` counts a process only from when it was first seen, so one
    that ended between two readings (an autovacuum worker, another run's backend) is left out
    rather than making a group go backwards: the pools keep the stack's backends alive. A
    service's child processes (its outbox relay, relay_process.py) count as the service."""

    OWN = ("rabbitmq", "pg background", "pg other dbs")  # shared with whatever else runs here

    def __init__(self, services: dict[str, int], databases: dict[str, str]) -> None:
        self.services = services  # name -> pid
        self.databases = databases  # database name -> label
        self.beam = [p for p in _pids() if (_stat(p) or ("",))[0] == "beam.smp"]
        self.postmaster = next(
            (p for p in _pids() if (_stat(p) or ("",))[0] == "postgres" and _ppid(p) == 1),
            None,
        )

    def read(self) -> dict[str, tuple[str, float]]:
        """pid -> (group, CPU seconds so far)."""
        seen: dict[str, tuple[str, float]] = {}
        pids = _pids()
        names = {str(pid): name for name, pid in self.services.items()}
        names.update({p: names[str(parent)] for p in pids if str(parent := _ppid(p)) in names})
        for pid, name in names.items():
            stat = _stat(pid)
            if stat:
                seen[pid] = (name, stat[1])
        for pid in self.beam:
            stat = _stat(pid)
            if stat:
                seen[pid] = ("rabbitmq", stat[1])
        for pid in pids:
            stat = _stat(pid)
            if not stat or stat[0] != "postgres":
                continue
            cmd = _cmdline(pid)
            label = next((lbl for db, lbl in self.databases.items() if f" {db} " in f" {cmd} "), None)
            if label is None:
                client = CLIENT_BACKEND.search(cmd)  # "… postgres somedb 127.0.0.1(5555) idle"
                label = "pg other dbs" if client else "pg background"  # WAL writer, checkpointer…
            seen[pid] = (label, stat[1])
        return seen

    def own(self, reading: dict[str, tuple[str, float]]) -> dict[str, tuple[str, float]]:
        """Only this stack's processes (for the CPU of a stack that stands idle meanwhile)."""
        return {pid: v for pid, v in reading.items() if v[0] not in self.OWN}

    @staticmethod
    def delta(before: dict[str, tuple[str, float]], after: dict[str, tuple[str, float]]) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for pid, (label, cpu) in after.items():
            earlier = before.get(pid)
            used = cpu - earlier[1] if earlier and earlier[0] == label else cpu
            totals[label] += max(used, 0.0)
        return dict(totals)


# vote.recorded to an outside subscriber


@dataclass
class Seen:
    received: float  # time.time()
    ballot_id: str | None
    votes_cast: int | None
    occurred_at: float | None


class EventTap:
    """A plain kombu consumer of `voting.events` / `vote.recorded`, in a process of its own.

    An outside subscriber is another program: it takes each event's arrival time in its own
    interpreter, not in this one, whose load client would hold the GIL. What it saw comes back
    through a pipe. Its queue is durable and outlives a lost connection (this machine is shared:
    someone's fault test may close every broker connection); the tap reconnects and counts how
    often it had to."""

    def __init__(self, uri: str, exchange: str = "voting.events", routing_key: str = "vote.recorded") -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # nothing of this process's threads
        self.queue_name = f"bench-tap-{uuid.uuid4().hex[:8]}"
        self.uri = uri
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._reconnects = context.Value("i", 0)
        self._stop = context.Event()
        ready = context.Event()
        self._events = context.Queue()
        self._process = context.Process(
            target=_tap_main,
            args=(uri, exchange, routing_key, self.queue_name, self._events, ready, self._stop, self._reconnects),
            daemon=True,
            name="vote.recorded tap",
        )
        self._process.start()
        self._reader = threading.Thread(target=self._read, daemon=True, name="vote.recorded tap reader")
        self._reader.start()
        if not ready.wait(30):
            self.close()
            raise RuntimeError("the vote.recorded subscriber could not bind its queue")

    @property
    def reconnects(self) -> int:
        return self._reconnects.value

    def _read(self) -> None:
        while True:
            item = self._events.get()
            if item is None:
                return
            with self._lock:
                self.seen.append(Seen(*item))

    def for_ballot(self, ballot_id: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.ballot_id == ballot_id]

    def wait_for(self, ballot_id: str, count: int, timeout: float) -> list[Seen]:
        """The events of a ballot once `count` have arrived (or the time is up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.for_ballot(ballot_id)
            if len(seen) >= count:
                return seen
            time.sleep(0.05)
        return self.for_ballot(ballot_id)

    def close(self) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
        self._events.put(None)
        self._reader.join(5)
        _delete_queue(self.uri, self.queue_name)


def _tap_queue(exchange: str, routing_key: str, name: str) -> Any:
    from kombu import Exchange, Queue

    return Queue(
        name,
        exchange=Exchange(exchange, type="topic", durable=True),
        routing_key=routing_key,
        durable=True,
        auto_delete=False,
    )


def _delete_queue(uri: str, name: str) -> None:
    from kombu import Connection

    with contextlib.suppress(Exception), Connection(uri, connect_timeout=5) as conn:
        _tap_queue("voting.events", "vote.recorded", name)(conn.default_channel).delete()


def _tap_main(
    uri: str, exchange: str, routing_key: str, name: str, events: Any, ready: Any, stop: Any, reconnects: Any
) -> None:
    """The tap's process: each event's arrival time taken here, sent to the bench as a tuple."""
    from kombu import Connection

    queue = _tap_queue(exchange, routing_key, name)

    def on_message(body: Any, message: Any) -> None:
        now = time.time()
        payload = body if isinstance(body, dict) else json.loads(body)
        data = payload.get("data") or {}
        occurred = payload.get("occurred_at")
        occurred_at = None
        if isinstance(occurred, str):
            with contextlib.suppress(ValueError):
                occurred_at = datetime.fromisoformat(occurred.replace("Z", "+00:00")).timestamp()
        events.put((now, data.get("ballot_id"), data.get("votes_cast"), occurred_at))
        message.ack()

    for _ in range(1000):  # bounded: a reconnect per lost connection, a pause between
        if stop.is_set():
            return
        try:
            with (
                Connection(uri, connect_timeout=5) as conn,
                conn.Consumer([queue], callbacks=[on_message], accept=["json"], prefetch_count=500),
            ):
                ready.set()
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError, socket.timeout):
                        conn.drain_events(timeout=0.2)
        except Exception:  # the connection or the broker went away: bind again
            with reconnects.get_lock():
                reconnects.value += 1
            time.sleep(0.5)


# PostgreSQL sessions and locks


@dataclass
class PgSample:
    states: Counter[str] = field(default_factory=Counter)  # voting backends by state (and wait)
    advisory_waiting: list[int] = field(default_factory=list)  # per sample
    holder_states: Counter[str] = field(default_factory=Counter)  # state of the advisory lock holder
    samples: int = 0


class PgSampler:
    """pg_stat_activity and pg_locks of one database every `interval` seconds, in a thread."""

    def __init__(self, admin_url: str, database: str, interval: float = 0.1) -> None:
        import sqlalchemy as sa

        self.database = database
        self.interval = interval
        self.engine = sa.create_engine(admin_url, pool_size=1, max_overflow=0)
        self.result = PgSample()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PgSampler:
        self.result = PgSample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="pg sampler")
        self._thread.start()
        return self

    def _run(self) -> None:
        import sqlalchemy as sa

        activity = sa.text(
            "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()"
        )
        locks = sa.text(
            "SELECT l.objid, l.granted, a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND a.datname = :db"
        )
        with self.engine.connect() as conn:
            for _ in range(100_000):  # bounded: stopped long before
                if self._stop.is_set():
                    return
                rows = conn.execute(activity, {"db": self.database}).all()
                held = conn.execute(locks, {"db": self.database}).all()
                conn.rollback()
                r = self.result
                r.samples += 1
                for row in rows:
                    state = row.state or "?"
                    if row.wait_event_type == "Lock" and row.wait_event == "advisory":
                        state = "waiting for an advisory lock"
                    elif row.wait_event_type in ("Lock", "LWLock", "IO"):
                        state = f"{state} (waiting: {row.wait_event_type}/{row.wait_event})"
                    r.states[state] += 1
                # objid: the low 32 bits of the key; the relay's session lock is another key.
                by_key: dict[int, list[Any]] = defaultdict(list)
                for row in held:
                    by_key[row.objid].append(row)
                waiting = 0
                for rows_of_key in by_key.values():
                    queued = [row for row in rows_of_key if not row.granted]
                    if queued:
                        waiting += len(queued)
                        for holder in (row for row in rows_of_key if row.granted):
                            r.holder_states[holder.state or "?"] += 1
                r.advisory_waiting.append(waiting)
                time.sleep(self.interval)

    def stop(self) -> PgSample:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        return self.result

    def close(self) -> None:
        self.stop()
        self.engine.dispose()
