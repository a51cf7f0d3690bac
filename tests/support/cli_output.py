"""Reading what the `congress` CLI printed, as the CLI tests do."""

from __future__ import annotations

import json
import subprocess


def ok(result: subprocess.CompletedProcess) -> str:
    assert (result.returncode, result.stderr) == (0, ""), (result.args, result.stdout, result.stderr)
    return result.stdout


def as_json(result: subprocess.CompletedProcess) -> dict:
    return json.loads(ok(result))


def one_line_error(result: subprocess.CompletedProcess, status: int = 1) -> str:
    """The error line, after checking it is the only output and the exit status is `status`:
    1 a refusal by the API (4xx), 2 a usage error (nothing sent), 3 a failure (unreachable, 5xx)."""
    assert result.returncode == status, (result.args, result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("congress: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.rstrip("\n")


def fields_of(stdout: str) -> dict[str, str]:
    """`key: value` lines as a dict."""
    pairs = (line.split(":", 1) for line in stdout.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def table_rows(stdout: str) -> list[list[str]]:
    """A table's rows (after the header and the dashes), split on runs of two or more spaces."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if set(line) <= {"-", " "} and "-" in line) + 1
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in lines[start:]]
