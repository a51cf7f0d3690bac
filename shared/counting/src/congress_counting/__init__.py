"""The count, pure: what the voting and sections services declare and `congress count` recounts.

- `apportionment`: delegates among sections by membership.
- `motions`: a motion's tally, majority rule and quorum.
- `block`, `stv` (with `meek` and `wigm`), `blt`: elections, and the BLT file format.
- `declaring`: an election declared, or failed for want of quorum or valid votes.
- `record`: a closed ballot's published record: digest, signature, invariants and recount.

Plain data in, plain data out: no framework, no I/O but reading a BLT file, and nothing of the
rest of congress; the services and the CLI depend on it, never the other way round.
"""
