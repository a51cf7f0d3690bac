"""Benchmark: the live stream (GET /api/v1/stream) with 1,000 clients on one gateway (issue 14).

Starts the stack (the four services as processes, on PostgreSQL unless BENCH_STORE=sqlite),
convenes a congress, opens a motion's ballot, opens SSE_CLIENTS (1,000) concurrent stream
clients on loopback (asyncio, raw sockets, HTTP/1.0 so the body is the bare event stream),
then casts votes through the API: first one at a time (the hall's ordinary pace), then a burst
from several threads. For every client and every vote it notes when the turnout reached the
client, and prints how many clients the gateway held and the delivery delay at p50/p99 (from
the moment the vote was sent to the moment the client read a turnout at least that high).

It measures and prints; it asserts nothing about speed. Bounded: BENCH_TIMEOUT (240 s) overall.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import running_stack
from tests.support import infra
from tests.support.congress import congress_in_session, table_and_open

CLIENTS = int(os.environ.get("SSE_CLIENTS", "1000"))
PACED_VOTES = int(os.environ.get("SSE_PACED_VOTES", "30"))
BURST_VOTES = int(os.environ.get("SSE_BURST_VOTES", "90"))
PACE = 0.2  # seconds between paced votes
CONNECT_BATCH = 50  # connections opened at once (the gateway's listen backlog is 50)
SETTLE = 10.0  # seconds to wait for the last turnout to reach every client
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "240"))


@dataclass
class Client:
    """One stream reader: when it first read each turnout of the ballot."""

    ready: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[tuple[int, float]] = field(default_factory=list)  # (votes_cast, wall-clock time read)
    closed_early: bool = False
    error: str = ""


async def read_stream(client: Client, host: str, port: int, ballot_id: str, stop: asyncio.Event) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        client.error = str(exc)
        client.closed_early = True
        client.ready.set()
        return
    writer.write(f"GET /api/v1/stream HTTP/1.0\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    buffer = b""
    headers_done = False
    try:
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(65536), timeout=1.0)
            except TimeoutError:
                continue
            if not chunk:
                client.closed_early = True
                break
            now = time.time()  # wall clock: compared with the events' occurred_at (same machine)
            buffer += chunk
            if not headers_done:
                if b"\r\n\r\n" not in buffer:
                    continue
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                if b" 200 " not in head.split(b"\r\n", 1)[0]:
                    client.error = head.split(b"\r\n", 1)[0].decode()
                    client.closed_early = True
                    break
                headers_done = True
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                kind, data = "", ""
                for line in frame.decode().split("\n"):
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                if kind == "ready":
                    client.ready.set()
                elif kind == "vote.recorded":
                    event = json.loads(data)["data"]
                    if event["ballot_id"] == ballot_id:
                        client.seen.append((event["votes_cast"], now))
    except OSError as exc:
        client.error = str(exc)
        client.closed_early = True
    finally:
        client.ready.set()
        writer.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def delays(clients: list[Client], sent: dict[int, float]) -> tuple[list[float], int]:
    """Per client and vote: first time the client read a turnout ≥ that vote's count, minus the vote's
    commit (coalescing may skip a count: a later, higher one then delivers it)."""
    found, missing = [], 0
    for client in clients:
        if client.closed_early:
            continue
        for count, at in sent.items():
            arrived = next((t for cast, t in client.seen if cast >= count), None)
            if arrived is None:
                missing += 1
            else:
                found.append(arrived - at)
    return found, missing


def stream_clients_metric(url: str) -> str:
    try:
        text = requests.get(url + "/metrics", timeout=10).text
    except requests.RequestException as exc:
        return f"unreadable ({exc})"
    line = next((ln for ln in text.splitlines() if ln.startswith("congress_stream_clients ")), None)
    return line.split()[1] if line else "absent"


def committed_at(url: str, admin_token: str, ballot_id: str) -> dict[int, float]:
    """votes_cast -> when that vote's event was written (its occurred_at, in the vote's transaction)."""
    found: dict[int, float] = {}
    after = 0
    while True:
        page = requests.get(
            f"{url}/api/v1/events/voting",
            params={"after": after, "limit": 1000, "types": "vote.recorded"},
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=30,
        ).json()
        for entry in page["events"]:
            event = entry["event"]
            if event["data"]["ballot_id"] == ballot_id:
                found[event["data"]["votes_cast"]] = datetime.fromisoformat(event["occurred_at"]).timestamp()
        if not page["events"]:
            return found
        after = page["next_after"]


def vote(url: str, ballot_id: str, credential: str) -> float:
    at = time.monotonic()
    answer = requests.post(
        f"{url}/api/v1/ballots/{ballot_id}/votes",
        json={"choice": "yes"},
        headers={"Authorization": f"Bearer {credential}"},
        timeout=30,
    )
    if answer.status_code != 201:
        raise RuntimeError(f"vote refused: {answer.status_code} {answer.text}")
    return time.monotonic() - at


def report(what: str, clients: list[Client], committed: dict[int, float], held: int) -> None:
    found, missing = delays(clients, committed)
    if not found:
        print(f"sse: {what}: nothing delivered")
        return
    print(
        f"sse: {what}, delivery to {held} clients: p50 {percentile(found, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(found, 0.99) * 1000:.0f} ms, max {max(found) * 1000:.0f} ms, {missing} never delivered"
    )


async def run(url: str, admin_token: str, ballot_id: str, credentials: list[str]) -> int:
    host, port = url.removeprefix("http://").split(":")
    stop = asyncio.Event()
    clients = [Client() for _ in range(CLIENTS)]
    tasks = []
    started = time.monotonic()
    for first in range(0, CLIENTS, CONNECT_BATCH):
        batch = clients[first : first + CONNECT_BATCH]
        tasks += [asyncio.create_task(read_stream(c, host, int(port), ballot_id, stop)) for c in batch]
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in batch)), timeout=60)
    connected = sum(1 for c in clients if c.ready.is_set() and not c.closed_early)
    print(f"sse: {connected}/{CLIENTS} clients connected and caught up in {time.monotonic() - started:.1f}s")
    print(f"sse: the gateway counts {stream_clients_metric(url)} stream clients (congress_stream_clients)")

    loop = asyncio.get_running_loop()
    answers: list[float] = []
    with ThreadPoolExecutor(8) as pool:
        for credential in credentials[:PACED_VOTES]:
            answers.append(await loop.run_in_executor(pool, vote, url, ballot_id, credential))
            await asyncio.sleep(PACE)
        burst_started = time.monotonic()
        burst = credentials[PACED_VOTES : PACED_VOTES + BURST_VOTES]
        answers += await asyncio.gather(*(loop.run_in_executor(pool, vote, url, ballot_id, c) for c in burst))
        burst_seconds = time.monotonic() - burst_started
    total = PACED_VOTES + len(burst)
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        if all(c.closed_early or any(cast >= total for cast, _ in c.seen) for c in clients):
            break
        await asyncio.sleep(0.1)
    held = sum(1 for c in clients if c.ready.is_set() and not c.closed_early)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    committed = await loop.run_in_executor(None, committed_at, url, admin_token, ballot_id)
    errors = sorted({c.error for c in clients if c.error})
    print(f"sse: {held}/{CLIENTS} clients held to the end; {CLIENTS - held} dropped or refused {errors[:3]}")
    print(f"sse: a vote answered by the API in p50 {statistics.median(answers) * 1000:.0f} ms")
    print("sse: delivery = from the vote's commit (its event's occurred_at) to the client reading that turnout")
    paced = {n: t for n, t in committed.items() if n <= PACED_VOTES}
    report(f"{len(paced)} votes one at a time (every {PACE * 1000:.0f} ms)", clients, paced, held)
    rushed = {n: t for n, t in committed.items() if n > PACED_VOTES}
    rate = len(rushed) / burst_seconds if burst_seconds else 0
    report(f"{len(rushed)} votes in a burst ({rate:.0f} votes/s from 8 threads)", clients, rushed, held)
    return 0


def main() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CLIENTS + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(wanted, soft)), hard))
    store = os.environ.get("BENCH_STORE", "postgres")
    vhost = infra.create_vhost()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sse-") as workdir:
            with running_stack(store, infra.amqp_uri(vhost), Path(workdir)) as stack:
                congress = congress_in_session(stack, PACED_VOTES + BURST_VOTES)
                _, ballot = table_and_open(stack, congress.body_id)
                print(f"sse: stack up on {store} and a ballot open in {time.monotonic() - started:.0f}s")
                credentials = [d.credential for d in congress.delegates]
                runner = run(stack.url, stack.admin_token, ballot["id"], credentials)
                return asyncio.run(asyncio.wait_for(runner, timeout=TIMEOUT))
    finally:
        if vhost:
            infra.delete_vhost(vhost)


if __name__ == "__main__":
    sys.exit(main())
