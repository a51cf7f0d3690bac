"""Issue 11, acceptance 3, on the real stack once per store: a secret ballot of 30 voters with
known choices, attacked as a hostile reader of the voting database and its files would.

While the ballot is open: on PostgreSQL a freshly made role with nothing but CONNECT and SELECT
pairs `participation` rows with `ballot_box` rows by xmin, ctid, row order and xmin order, and
reads each pair's box row in clear or by its length; it reads every table, every sequence and the
outbox (positions, times) for receipts, voters and choices. On SQLite a reader of the files zips
the tables by rowid, diffs the commits of the `-wal` file (what each one added: a voter, a choice)
and looks for choices near voter ids in the bytes; the files are 0600 in a 0700 folder. After
the close: PostgreSQL's raw WAL segments written since the ballot opened, their records grouped by
transaction and searched by proximity; SQLite's tables and `-wal` file again.

Each attack is written as an attacker would write it and guesses a voter's choice only from what
it finds; the test counts the voters it gets right and allows no more than a guess without
information gets (the commonest choice's count, plus three standard deviations of luck). On the
storage before issue 11 (receipt and choice in clear while open) the xmin, ctid and rowid
pairings, the `-wal` commits and both WAL attacks each linked 30 of 30; the last test shows every
attack at work on rows and bytes in clear.
"""

from __future__ import annotations

import bisect
import json
import math
import random
import re
import secrets
import shutil
import sqlite3
import struct
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tests.e2e.conftest import Stack
from tests.support import infra
from tests.support.congress import Congress, congress_in_session, table_and_open

pytestmark = pytest.mark.e2e

VOTERS = 30
MIX = ["yes"] * 12 + ["no"] * 10 + ["abstain"] * 8
BY_LENGTH = ("no", "yes", "abstain")  # the shortest choice in clear first
# A choice in clear as a store writes it (after PostgreSQL's one-byte length, as SQLite's bare
# text, in JSON's quotes), not a piece of a longer word.
TOKEN = re.compile(rb"(?<![g-z])(yes|no|abstain)(?![a-z])")
QUOTED = re.compile(rb'"(yes|no|abstain)"')

Row = Mapping[str, Any]
Guesses = Mapping[str, str | None]


@pytest.fixture(scope="module")
def congress(stack: Stack) -> Congress:
    return congress_in_session(stack, delegates=VOTERS)


# What an attacker does with what it reads.


def as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, default=str).encode()


def decode(row: Row) -> str | None:
    """The choice one ballot-box row shows: a column holding it, or JSON holding it, in clear."""
    found = {value for value in row.values() if isinstance(value, str) and value in BY_LENGTH}
    for value in row.values():
        found |= {m.decode() for m in QUOTED.findall(as_bytes(value))}
    return found.pop() if len(found) == 1 else None


def by_length(pairs: Sequence[tuple[str, Row]]) -> dict[str, str | None]:
    """Longer choices make longer rows: rank the rows' sizes and read the choice off the rank.
    Rows all of one size say nothing."""
    sizes = {member: sum(len(as_bytes(v)) for v in row.values()) for member, row in pairs}
    classes = sorted(set(sizes.values()))
    if len(classes) < 2:
        return {}
    rank = {size: BY_LENGTH[min(i, len(BY_LENGTH) - 1)] for i, size in enumerate(classes)}
    return {member: rank[size] for member, size in sizes.items()}


def by_proximity(blob: bytes, voters: Sequence[str], window: int = 512) -> dict[str, str | None]:
    """The choice written nearest to where the voter's id is written."""
    tokens = [(m.start(), m.group(1).decode()) for m in TOKEN.finditer(blob)]
    places = [at for at, _ in tokens]
    guesses: dict[str, str | None] = {}
    for member in voters:
        needle, best = member.encode(), None
        at = blob.find(needle)
        while at >= 0:
            i = bisect.bisect_left(places, at)
            for j in (i - 1, i):
                if 0 <= j < len(tokens) and abs(places[j] - at) <= window:
                    distance = abs(places[j] - at)
                    if best is None or distance < best[0]:
                        best = (distance, tokens[j][1])
            at = blob.find(needle, at + 1)
        guesses[member] = best[1] if best else None
    return guesses


def by_transaction(groups: Sequence[tuple[set[str], Counter[str]]], voters: Sequence[str]) -> dict[str, str | None]:
    """Groups are what one transaction wrote: the voters and the choices in it. A voter's own
    transaction is the one with the fewest other voters; read the choice it wrote."""
    guesses: dict[str, str | None] = {}
    for member in voters:
        mine = sorted((g for g in groups if member in g[0]), key=lambda g: len(g[0]))
        guesses[member] = next((what.most_common(1)[0][0] for _, what in mine if what), None)
    return guesses


def tokens_in(data: bytes) -> Counter[str]:
    return Counter(t.decode() for t in TOKEN.findall(data))


def chance(truth: Mapping[str, str]) -> int:
    """The most voters a guess without information gets right, with three standard deviations of
    luck: always guessing the commonest choice gets its count."""
    top = max(Counter(truth.values()).values())
    p = top / len(truth)
    return int(top + 3 * math.sqrt(len(truth) * p * (1 - p)))


class Scores:
    def __init__(self, truth: Mapping[str, str]) -> None:
        self.truth = truth
        self.linked: dict[str, int] = {}

    def add(self, attack: str, guesses: Guesses) -> None:
        self.linked[attack] = sum(1 for m, g in guesses.items() if g is not None and self.truth.get(m) == g)

    def add_pairs(self, attack: str, pairs: Sequence[tuple[str, Row]]) -> None:
        self.add(attack, {member: decode(row) for member, row in pairs})
        self.add(f"{attack}, by length", by_length(pairs))

    def check(self) -> None:
        bound = chance(self.truth)
        over = {attack: n for attack, n in self.linked.items() if n > bound}
        assert not over, f"linked more voters than chance allows ({bound} of {len(self.truth)}): {self.linked}"


# The ballot.


def cast(stack: Stack, congress: Congress, ballot_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """Everyone votes, in an order that is neither member order nor choice order: (choices, receipts)."""
    mix = MIX[:]
    random.Random(11).shuffle(mix)
    truth = {d.member_id: c for d, c in zip(congress.delegates, mix, strict=True)}
    voters = congress.delegates[:]
    random.Random(5).shuffle(voters)
    receipts = {}
    for delegate in voters:
        answer = stack.api(
            "POST",
            f"/api/v1/ballots/{ballot_id}/votes",
            token=delegate.auth,
            json={"choice": truth[delegate.member_id]},
        )
        assert answer.status_code == 201, answer.text
        receipts[delegate.member_id] = answer.json()["receipt"]
    return truth, receipts


def close_and_check_record(stack: Stack, ballot_id: str, truth: dict[str, str], receipts: dict[str, str]) -> None:
    closed = stack.api("POST", f"/api/v1/ballots/{ballot_id}/close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["result"]["tally"] == dict(Counter(MIX))
    record = stack.api("GET", f"/api/v1/ballots/{ballot_id}/record").json()
    assert {b["receipt"]: b["choice"] for b in record["ballots"]} == {receipts[m]: truth[m] for m in truth}


# PostgreSQL: a role with CONNECT and SELECT only.


@contextmanager
def select_only_role(stack: Stack) -> Iterator[sa.Engine]:
    url = stack.engines["voting"].url
    name = "spy_" + secrets.token_hex(4)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {name} LOGIN NOSUPERUSER"))
        conn.execute(sa.text(f'GRANT CONNECT ON DATABASE "{url.database}" TO {name}'))
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {name}"))
        conn.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}"))
        conn.execute(sa.text(f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}"))
    spy = sa.create_engine(url.set(username=name), poolclass=NullPool)
    try:
        yield spy
    finally:
        spy.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {name}"))
            conn.execute(sa.text(f"DROP ROLE {name}"))
        admin.dispose()


def spy_pairs(spy: sa.Engine, ballot_id: str) -> dict[str, list[tuple[str, Row]]]:
    """Every way a SELECT-only role pairs a voter with a ballot-box row."""
    with spy.connect() as conn:

        def rows(sql: str) -> list[dict[str, Any]]:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql), {"b": ballot_id})]

        def box(order: str) -> list[dict[str, Any]]:
            return rows(f"SELECT * FROM ballot_box WHERE ballot_id = :b {order}")

        def who(order: str) -> list[str]:
            return [r["member_id"] for r in rows(f"SELECT member_id FROM participation WHERE ballot_id = :b {order}")]

        joined = rows(
            "SELECT p.member_id AS spy_member, b.* FROM participation p JOIN ballot_box b "
            "ON b.ballot_id = p.ballot_id AND b.xmin = p.xmin WHERE p.ballot_id = :b"
        )
        pairs = {"xmin join": [(r.pop("spy_member"), r) for r in joined]}
        for name, order in {
            "ctid order": "ORDER BY ctid",
            "row order": "",
            "xmin order": "ORDER BY xmin::text::bigint",
        }.items():
            pairs[name] = list(zip(who(order), box(order), strict=False))
    return pairs


def outbox_of(spy: sa.Engine, ballot_id: str) -> bytes:
    """The ballot's events in the outbox, in order and with their times: one per vote."""
    with spy.connect() as conn:
        rows = conn.execute(sa.text("SELECT position, occurred_at, envelope FROM outbox ORDER BY position")).all()
    events = [as_bytes(list(r)) for r in rows]
    return b"\n".join(e for e in events if ballot_id.encode() in e)


def everything_readable(spy: sa.Engine) -> bytes:
    """Every row of every table and every sequence the role can read, as bytes."""
    out = []
    with spy.connect() as conn:
        tables = conn.execute(
            sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        ).scalars()
        for table in list(tables):
            out += [as_bytes(v) for r in conn.execute(sa.text(f'SELECT * FROM "{table}"')) for v in r]
        for seq in list(conn.execute(sa.text("SELECT sequence_name FROM information_schema.sequences")).scalars()):
            out.append(as_bytes(conn.execute(sa.text(f'SELECT last_value FROM "{seq}"')).scalar()))
    return b"\n".join(out)


# PostgreSQL: its WAL, raw.


class WalWindow:
    """PostgreSQL's WAL from now on, kept by a temporary physical replication slot (so no
    checkpoint recycles it) and read back from the segment files under its data directory."""

    PAGE = 8192

    def __init__(self) -> None:
        self.engine = sa.create_engine(infra.PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.conn = self.engine.connect()
        slot = "congress_secrecy_" + secrets.token_hex(4)
        self.conn.execute(sa.text("SELECT pg_create_physical_replication_slot(:s, true, true)"), {"s": slot})
        self.pg_wal = Path(self.conn.execute(sa.text("SHOW data_directory")).scalar()) / "pg_wal"
        self.segment = int(
            self.conn.execute(sa.text("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'")).scalar()
        )
        self.start = self.insert_lsn()
        name = self.conn.execute(sa.text("SELECT pg_walfile_name(pg_current_wal_insert_lsn())")).scalar()
        self.timeline = int(name[:8], 16)

    def insert_lsn(self) -> int:
        return int(self.conn.execute(sa.text("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")).scalar())

    def flushed_lsn(self) -> int:
        return int(self.conn.execute(sa.text("SELECT pg_current_wal_flush_lsn() - '0/0'::pg_lsn")).scalar())

    def close(self) -> None:
        self.conn.close()  # drops the temporary slot
        self.engine.dispose()

    def _page(self, address: int) -> bytes:
        number = address // self.segment
        per_id = 0x100000000 // self.segment
        path = self.pg_wal / f"{self.timeline:08X}{number // per_id:08X}{number % per_id:08X}"
        with path.open("rb") as segment:
            segment.seek(address % self.segment)
            return segment.read(self.PAGE)

    def records(self) -> tuple[bytes, list[tuple[int, bytes]]]:
        """Everything written since the start, page headers taken out, and its records as (xid, bytes)."""
        assert self.pg_wal.is_dir(), f"{self.pg_wal} is not readable here: run on PostgreSQL's host, as root"
        end = self.insert_lsn()
        infra.eventually(lambda: self.flushed_lsn() >= end, what="the WAL to reach the disk")
        stream, pages, segment_starts = bytearray(), {}, []
        for address in range(self.start - self.start % self.PAGE, end, self.PAGE):
            page = self._page(address)
            header = 40 if struct.unpack_from("<HH", page)[1] & 0x0002 else 24  # long header: a segment's first
            if header == 40:
                segment_starts.append(len(stream))
            pages[address] = (len(stream), header)
            stream += page[header:]

        def logical(lsn: int) -> int:
            at, header = pages.get(lsn - lsn % self.PAGE, (len(stream), 0))
            return at + max(0, lsn % self.PAGE - header)

        records, at, stop = [], logical(self.start), logical(end)
        while at + 24 <= stop:
            length, xid = struct.unpack_from("<II", stream, at)
            if length == 0:  # the rest of a switched segment: go on at the next one
                at = next((s for s in segment_starts if s > at), stop)
                continue
            if length < 24 or at + length > len(stream):
                break
            records.append((xid, bytes(stream[at : at + length])))
            at += (length + 7) & ~7
        return bytes(stream[logical(self.start) : stop]), records


def wal_transactions(records: list[tuple[int, bytes]], voters: Sequence[str]) -> list[tuple[set[str], bytes]]:
    """What each transaction that names a voter wrote: those voters, and its records."""
    by_xid: dict[int, list[bytes]] = {}
    for xid, record in records:
        if xid:
            by_xid.setdefault(xid, []).append(record)
    groups = []
    for parts in by_xid.values():
        data = b"".join(parts)
        who = {m for m in voters if m.encode() in data}
        if who:
            groups.append((who, data))
    return groups


# SQLite: its files.


def sqlite_pairs(copy: Path, ballot_id: str) -> dict[str, list[tuple[str, Row]]]:
    conn = sqlite3.connect(copy)
    conn.row_factory = sqlite3.Row
    try:
        pairs = {}
        for name, order in {"rowid order": "ORDER BY rowid", "row order": ""}.items():
            who = [
                r[0]
                for r in conn.execute(f"SELECT member_id FROM participation WHERE ballot_id = ? {order}", (ballot_id,))
            ]
            box = [dict(r) for r in conn.execute(f"SELECT * FROM ballot_box WHERE ballot_id = ? {order}", (ballot_id,))]
            pairs[name] = list(zip(who, box, strict=False))
        return pairs
    finally:
        conn.close()


def copy_store(db: Path, into: Path) -> Path:
    """What a reader of the files takes away: the database and its -wal, opened elsewhere."""
    into.mkdir()
    for suffix in ("", "-wal"):
        source = Path(f"{db}{suffix}")
        if source.exists():
            shutil.copyfile(source, into / f"voting.sqlite{suffix}")
    return into / "voting.sqlite"


def wal_commits(db: bytes, wal: bytes) -> list[list[tuple[bytes, bytes]]]:
    """(page before, page after) for each page each commit in a -wal file wrote, oldest first; the
    frames of earlier generations (an older salt) too, where not yet overwritten."""
    if len(wal) < 32:
        return []
    size = struct.unpack_from(">I", wal, 8)[0]
    generations: dict[int, list[tuple[int, int, bytes]]] = {}
    for at in range(32, len(wal) - 24 - size + 1, 24 + size):
        page_number, commit, salt = struct.unpack_from(">III", wal, at)
        generations.setdefault(salt, []).append((page_number, commit, wal[at + 24 : at + 24 + size]))
    latest: dict[int, bytes] = {}
    commits, pending = [], []
    for salt in sorted(generations):  # salt-1 grows by one at each restart of the file
        for page_number, commit, page in generations[salt]:
            before = latest.get(page_number, db[(page_number - 1) * size : page_number * size])
            pending.append((before, page))
            latest[page_number] = page
            if commit:
                commits.append(pending)
                pending = []
    return commits


def commit_groups(
    commits: list[list[tuple[bytes, bytes]]], voters: Sequence[str]
) -> list[tuple[set[str], Counter[str]]]:
    """What each commit added: the voters whose id it wrote once more, the choices it wrote once more."""
    groups = []
    for pages in commits:
        who: set[str] = set()
        what: Counter[str] = Counter()
        for before, after in pages:
            who |= {m for m in voters if after.count(m.encode()) > before.count(m.encode())}
            what += tokens_in(after) - tokens_in(before)
        if who:
            groups.append((who, what))
    return groups


def sqlite_attacks(scores: Scores, when: str, db: Path, ballot_id: str, workdir: Path, voters: Sequence[str]) -> bytes:
    for name, pairs in sqlite_pairs(copy_store(db, workdir / when), ballot_id).items():
        scores.add_pairs(f"{when}: {name}", pairs)
    raw_db, raw_wal = db.read_bytes(), Path(f"{db}-wal").read_bytes()
    scores.add(f"{when}: -wal commits", by_transaction(commit_groups(wal_commits(raw_db, raw_wal), voters), voters))
    scores.add(f"{when}: file bytes, proximity", by_proximity(raw_db + raw_wal, voters))
    return raw_db + raw_wal


def test_a_secret_ballot_links_no_voter_to_a_choice_while_open_or_after(
    stack: Stack, congress: Congress, tmp_path: Path
) -> None:
    _, ballot = table_and_open(stack, congress.body_id)
    ballot_id = ballot["id"]
    voters = [d.member_id for d in congress.delegates]
    wal = WalWindow() if stack.store == "postgres" else None
    problems = []
    try:
        truth, receipts = cast(stack, congress, ballot_id)
        hidden = [r.encode() for r in receipts.values()]
        scores = Scores(truth)

        if wal is not None:
            with select_only_role(stack) as spy:
                pairs = spy_pairs(spy, ballot_id)
                for name, found in pairs.items():
                    scores.add_pairs(f"open: {name}", found)
                # The join works, and gives the role only what it cannot read.
                if len(pairs["xmin join"]) != VOTERS:
                    problems.append(f"the xmin join paired {len(pairs['xmin join'])} rows, not {VOTERS}")
                if decoded := [row for _, row in pairs["xmin join"] if decode(row)]:
                    problems.append(f"{len(decoded)} ballot-box rows read in clear while open")
                if [r for r in hidden if r in everything_readable(spy)]:
                    problems.append("receipts readable while the ballot is open")
                # The outbox says when each vote came, in order, but neither who nor what.
                events = outbox_of(spy, ballot_id)
                if events.count(b"vote.recorded") != VOTERS or [m for m in voters if m.encode() in events]:
                    problems.append("the outbox names voters")
                if QUOTED.search(events):
                    problems.append("the outbox holds a choice")
                close_and_check_record(stack, ballot_id, truth, receipts)
                for name, found in spy_pairs(spy, ballot_id).items():
                    scores.add_pairs(f"closed: {name}", found)
            blob, records = wal.records()
            transactions = wal_transactions(records, voters)
            # The votes' own transactions and the close's were in what was read.
            assert len(transactions) > VOTERS and set().union(*(who for who, _ in transactions)) == set(voters)
            if [r for r in hidden for who, data in transactions if len(who) == 1 and r in data]:
                problems.append("a vote's own transaction in the WAL holds its receipt")
            scores.add("closed: WAL transactions", by_transaction([(w, tokens_in(d)) for w, d in transactions], voters))
            scores.add("closed: WAL proximity", by_proximity(blob, voters))
        else:
            db = Path(stack.engines["voting"].url.database)
            for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), db.parent):
                mode = path.stat().st_mode & 0o777
                if mode != (0o700 if path.is_dir() else 0o600):
                    problems.append(f"{path} has mode {oct(mode)}")
            raw = sqlite_attacks(scores, "open", db, ballot_id, tmp_path, voters)
            if [r for r in hidden if r in raw]:
                problems.append("receipts in the store's files while the ballot is open")
            close_and_check_record(stack, ballot_id, truth, receipts)
            sqlite_attacks(scores, "closed", db, ballot_id, tmp_path, voters)
    finally:
        if wal is not None:
            wal.close()

    scores.check()
    assert not problems


def test_the_attacks_link_every_voter_of_a_ballot_in_clear() -> None:
    """The attacks work: on rows and bytes written as before issue 11, each links every voter."""
    truth = {f"{i:08d}-0000-4000-8000-{secrets.token_hex(6)}": c for i, c in enumerate(MIX)}
    rows = [
        (m, {"ballot_id": "b", "receipt": secrets.token_hex(16), "choice": c, "ranking": None})
        for m, c in truth.items()
    ]
    scores = Scores(truth)
    scores.add_pairs("clear", rows)
    assert scores.linked == {"clear": VOTERS, "clear, by length": VOTERS}
    votes = [
        f"\x25{m}\x25{secrets.token_hex(8)}".encode() + bytes([(len(c) + 1) << 1 | 1]) + c.encode() + b"\x00" * 200
        for m, c in truth.items()
    ]
    scores.add("proximity", by_proximity(b"".join(votes), list(truth)))
    assert scores.linked["proximity"] == VOTERS
    groups = [({m}, tokens_in(v)) for m, v in zip(truth, votes, strict=True)]
    groups.append((set(truth), Counter(MIX)))
    assert by_transaction(groups, list(truth)) == truth
