"""The vote benchmark's HTTP load client: asyncio, raw HTTP/1.1 over keep-alive sockets.

One coroutine per connection, each taking delegates from a shared list until it is empty, so
`connections` is the number of votes in flight; paced, delegates arrive at a fixed rate instead.
Every connection is opened before the clock starts (a hall's browsers are connected before the
vote is called). A vote that times out, loses its connection or gets a 5xx is sent again with the
same `request_id`, on a fresh connection; its latency runs from its first send (paced: from when
the delegate arrived) to the answer that settles it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_ATTEMPTS = 6
HEADER_LIMIT = 64 << 10


class HttpError(Exception):
    """The connection broke or the answer was not HTTP we understand."""


@dataclass
class Voter:
    credential: str
    choice: str


@dataclass
class Outcome:
    status: int  # the settling answer's status; 0 when no answer settled it
    started: float  # perf_counter of the first send
    answered: float  # perf_counter of the settling answer
    attempts: int
    receipt: str | None
    answered_wall: float  # time.time() of the settling answer (events carry wall-clock times)
    choice: str

    @property
    def latency(self) -> float:
        return self.answered - self.started


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0  # this process, over the run
    connect_seconds: float = 0.0
    abandoned: int = 0  # not settled within the run's time bound

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    @property
    def accepted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 201]


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=HEADER_LIMIT)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise HttpError(f"no answer: {exc}") from None
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(status_line.split(" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(f"not an HTTP status line: {status_line!r}") from None
        answer_headers = {}
        for line in header_lines:
            if ":" in line:
                name, _, value = line.partition(":")
                answer_headers[name.strip().lower()] = value.strip()
        if answer_headers.get("transfer-encoding", "").lower() == "chunked":
            data = await self._chunked()
        else:
            data = await self.reader.readexactly(int(answer_headers.get("content-length", "0")))
        if answer_headers.get("connection", "").lower() == "close":
            self.close()
        return status, data

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        for _ in range(1_000_000):  # bounded: a chunked body of a vote's answer is a few chunks
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                break
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        return b"".join(parts)


async def _vote(
    conn: Connection, path: str, voter: Voter, timeout: float, deadline: float, started: float | None = None
) -> Outcome:
    """One delegate's vote; its latency runs from `started` (when they pressed the button) if given."""
    request_id = str(uuid.uuid4())
    body = json.dumps({"choice": voter.choice, "request_id": request_id}).encode()
    headers = {"Authorization": f"Bearer {voter.credential}", "Content-Type": "application/json"}
    started = time.perf_counter() if started is None else started
    status, receipt, attempts = 0, None, 0
    while attempts < MAX_ATTEMPTS and time.perf_counter() < deadline:
        attempts += 1
        try:
            status, data = await asyncio.wait_for(conn.request("POST", path, headers, body), timeout)
        except (TimeoutError, OSError, HttpError):
            conn.close()  # its state is unknown: the retry goes on a new connection
            status = 0
            await asyncio.sleep(min(0.1 * attempts, 1.0))
            continue
        if status >= 500:
            await asyncio.sleep(min(0.1 * attempts, 1.0))
            continue
        if status == 201:
            receipt = json.loads(data).get("receipt")
        break
    return Outcome(status, started, time.perf_counter(), attempts, receipt, time.time(), voter.choice)


async def _open_all(host: str, port: int, count: int, at_once: int = 50) -> list[Connection]:
    """Open `count` connections, `at_once` at a time (the gateway's listen backlog is 50)."""
    conns = [Connection(host, port) for _ in range(count)]
    for start in range(0, count, at_once):
        await asyncio.gather(*(c.open() for c in conns[start : start + at_once]))
    return conns


async def _run(
    host: str,
    port: int,
    ballot_id: str,
    voters: Sequence[Voter],
    connections: int,
    timeout: float,
    bound: float,
    rate: float | None,
) -> LoadResult:
    result = LoadResult()
    path = f"/api/v1/ballots/{ballot_id}/votes"
    cpu0, t0 = time.process_time(), time.perf_counter()
    conns = await _open_all(host, port, min(connections, len(voters)))
    result.connect_seconds = time.perf_counter() - t0
    queue = list(reversed(list(enumerate(voters))))
    result.started = time.perf_counter()
    deadline = result.started + bound

    async def worker(conn: Connection) -> None:
        while queue and time.perf_counter() < deadline:
            i, voter = queue.pop()
            pressed = None
            if rate:  # open loop: the i-th delegate presses at i/rate, whether or not a connection is free
                pressed = result.started + i / rate
                await asyncio.sleep(max(0.0, pressed - time.perf_counter()))
            result.outcomes.append(await _vote(conn, path, voter, timeout, deadline, pressed))
        conn.close()

    await asyncio.gather(*(worker(c) for c in conns))
    result.finished = time.perf_counter()
    result.cpu_seconds = time.process_time() - cpu0
    result.abandoned = len(queue) + sum(1 for o in result.outcomes if o.status == 0)
    return result


def cast_votes(
    url: str,
    ballot_id: str,
    voters: Sequence[Voter],
    connections: int,
    timeout: float = 15.0,
    bound: float = 120.0,
    rate: float | None = None,
) -> LoadResult:
    """Every voter casts one vote, at most `connections` at a time: all at once (closed loop), or
    with `rate` the i-th at i/rate seconds (open loop, latency counted from then even while it
    waits for a free connection). Nothing runs past `bound` seconds."""
    hostport = url.split("://", 1)[1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    return asyncio.run(_run(host, int(port), ballot_id, voters, connections, timeout, bound, rate))
