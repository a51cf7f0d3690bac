"""The Click classes and decorators every command module uses.

Every command over the API has --url and --json; it returns (answer, printer) and `api_command`
prints the answer as JSON or readably. Errors are CliError (client.py): one line, its exit status.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from congress.cli.client import DEFAULT_URL, EXIT_CODES_HELP, Client, UsageProblem
from congress.cli.output import Printer, print_json


class Formatter(click.HelpFormatter):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        # "usage:" as argparse (and `congress count`) write it.
        super().write_usage(prog, args, "usage: " if prefix is None else prefix)


class Context(click.Context):
    formatter_class = Formatter


class Command(click.Command):
    context_class = Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", EXIT_CODES_HELP)
        super().__init__(*args, **kwargs)


class Group(click.Group):
    context_class = Context
    command_class = Command
    group_class = type  # subgroups are of this class too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", EXIT_CODES_HELP)
        super().__init__(*args, **kwargs)


class DefaultGroup(Group):
    """A group whose first word may be an argument of its default command:
    `congress inbox CODE` is `congress inbox list CODE`, `congress inbox read CODE ID` is itself."""

    def __init__(self, *args: Any, default: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default = default

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        help_names = set(self.get_help_option_names(ctx))
        if args and args[0] not in self.commands and args[0] not in help_names:
            args = [self.default, *args]
        return super().parse_args(ctx, args)


class Vocabulary(click.Choice):
    """A choice among the contract's words (vocabulary.py), looked up on first use: declaring the
    option costs nothing, so `congress GROUP --help` never loads the contract's schemas."""

    def __init__(self, word: str) -> None:  # no super().__init__: it would read the choices now
        self.word = word
        self.case_sensitive = True

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        from congress.cli import vocabulary

        return tuple(getattr(vocabulary, self.word))


URL_HELP = f"the gateway's URL (default: $CONGRESS_URL, the config file's url, else {DEFAULT_URL})"


@dataclass
class Call:
    """What a command over the API gets: the options every such command has, and its client."""

    url: str | None
    as_json: bool
    _client: Client | None = None

    @property
    def client(self) -> Client:
        # Built on first use: a command that fails on its input never asks for a token.
        if self._client is None:
            self._client = Client.from_settings(self.url)
        return self._client

    def anonymous(self) -> Client:
        """A client for the public routes (the key, a published record): a token only if one is set."""
        from congress.cli.client import settled_token

        try:
            token: str | None = settled_token()
        except UsageProblem:
            token = None
        return Client.from_settings(self.url, token=token, token_required=False)


def api_command(func: Callable[..., tuple[Any, Printer] | None]) -> Callable[..., int]:
    """Give a command --url and --json; print what it returns, as JSON or readably."""

    @functools.wraps(func)
    def run(*args: Any, url: str | None, as_json: bool, **kwargs: Any) -> int:
        outcome = func(Call(url=url, as_json=as_json), *args, **kwargs)
        if outcome is not None:
            answer, printer = outcome
            if as_json:
                print_json(answer)
            else:
                printer(answer)
        return 0

    run = click.option("--json", "as_json", is_flag=True, help="print the API's JSON answer, for scripts")(run)
    return click.option("--url", metavar="URL", help=URL_HELP)(run)


def read_text_file(name: str, what: str = "file") -> str:
    """A UTF-8 file's text ('-': stdin); an unreadable one is a usage error, nothing sent."""
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"{name}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageProblem(f"{name}: not UTF-8 text (byte {exc.start}); save the {what} as UTF-8") from None


def split_list(values: tuple[str, ...] | str | None) -> list[str]:
    """`--event a --event b,c` or `--rank "Rosa, Karl"`: the items, trimmed, in order."""
    if values is None:
        return []
    given = (values,) if isinstance(values, str) else values
    return [item.strip() for value in given for item in value.split(",") if item.strip()]
