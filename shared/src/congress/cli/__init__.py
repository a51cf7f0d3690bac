"""`congress`: the admin command line, and offline counting that needs no running stack."""

from __future__ import annotations

import argparse
import json
import sys

from congress import __version__
from congress.cli import admin, count, voting


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="congress", description="Admin command line of the congress platform.")
    parser.add_argument("--version", action="version", version=f"congress {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    count.add_commands(commands)
    admin.add_commands(commands)
    voting.add_commands(commands)
    contract = commands.add_parser("contract", help="the published event contract")
    contract.add_argument("format", choices=["asyncapi"], help="print the AsyncAPI 3.0 document (JSON)")
    contract.set_defaults(run=print_contract)
    return parser


def print_contract(args: argparse.Namespace) -> int:
    from congress.contract.asyncapi import asyncapi_document

    json.dump(asyncapi_document(), sys.stdout, indent=2)
    print()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except (count.InputError, admin.AdminError) as exc:
        print(f"congress: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
