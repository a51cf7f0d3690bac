"""`congress keys`, `congress contract asyncapi`, and `congress count …` (count.py, run as it is)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import click

from congress.cli.command import Call, Group, api_command
from congress.cli.output import Printer, print_fields


@click.command("keys", cls=Group.command_class)
@api_command
def keys_command(call: Call) -> tuple[Any, Printer]:
    """The public key that verifies every published ballot record (no token needed).

    Keep it: `congress count ballot RECORD.json --key KEY` checks a record against it offline.
    """
    return call.anonymous().call("GET", "/api/v1/keys"), print_fields


@click.command("contract", cls=Group.command_class)
@click.argument("format", type=click.Choice(["asyncapi"]))
def contract_command(format: str) -> int:
    """Print the published event contract: the AsyncAPI 3.0 document (JSON)."""
    from congress.contract.asyncapi import asyncapi_document

    json.dump(asyncapi_document(), sys.stdout, indent=2)
    print()
    return 0


@click.command(
    "count",
    cls=Group.command_class,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
    epilog="",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def count_command(args: tuple[str, ...]) -> int:
    """Count offline from a file (no running stack needed): apportion, ballot, stv."""
    # count.py keeps its own argparse parser, options and messages: hand it the words as they came.
    from congress.cli import count
    from congress.cli.client import CliError

    parser = argparse.ArgumentParser(prog="congress")
    count.add_commands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    try:
        parsed = parser.parse_args(["count", *args])
    except SystemExit as exc:  # argparse's usage errors (2) and --help (0)
        return int(exc.code or 0)
    try:
        return int(parsed.run(parsed))
    except (count.InputError, CliError) as exc:
        print(f"congress: {exc}", file=sys.stderr)
        return 1
