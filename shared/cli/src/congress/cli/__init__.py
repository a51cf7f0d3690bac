"""`congress`: the command line of every role over the HTTP API, and offline counting.

Start-up is kept short (`congress --help` well under 0.3 s): this module imports Click and
nothing else heavy; each command group's module is imported only when that group runs or shows
its own help, and the HTTP client, Rich and the contract's schemas only when they are needed.
Nothing here imports a service, nameko, eventlet, kombu or SQLAlchemy.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from congress.cli.client import EXIT_CODES_HELP, EXIT_INTERRUPTED, EXIT_USAGE, CliError
from congress.cli.command import Context, Group
from congress.version import __version__

# name: (module under congress.cli, one line of help), in the order `congress --help` lists them.
SECTIONS: tuple[tuple[str, dict[str, tuple[str, str]]], ...] = (
    (
        "Sections and apportionment (admin, section officers)",
        {
            "sections": ("admin", "the register of sections"),
            "returns": ("admin", "sections' membership returns"),
            "apportion": ("admin", "apportion congress delegates among the sections"),
            "nominations": ("admin", "delegates nominated by the sections; import them from a CSV"),
            "tokens": ("admin", "API tokens of every role: issue, list, revoke"),
        },
    ),
    (
        "Congresses, bodies and ballots (admin)",
        {
            "congress": ("voting", "World Congresses: schedule, convene, session, close"),
            "bodies": ("voting", "voting bodies (a convened congress, the IEC, the IS) and their members"),
            "accredit": ("voting", "accredit a nominated delegate (credential shown once)"),
            "credential": ("voting", "members' credentials: reissue, revoke"),
            "motions": ("voting", "motions before a body"),
            "ballot": ("voting", "ballots: open, watch, close, show, the published record"),
            "elections": ("elections", "elections of a body: create, candidates, open, show the count"),
        },
    ),
    (
        "A delegate's own (credential from $CONGRESS_CREDENTIAL or --credential-file)",
        {
            "vote": ("delegate", "vote in a ballot: yes|no|abstain, --rank or --mark; prints your receipt"),
            "my": ("delegate", "my open ballots; find my receipt in a published record"),
        },
    ),
    (
        "Secretariat",
        {
            "circulars": ("secretariat", "circulars to the sections or the IEC: issue, list"),
            "inbox": ("secretariat", "a section's inbox: list, read"),
            "webhooks": ("secretariat", "webhook subscriptions: add, list, remove"),
            "deliveries": ("secretariat", "email and webhook deliveries: list, retry"),
        },
    ),
    (
        "Anyone, and offline",
        {
            "keys": ("platform", "the public key that verifies published ballot records"),
            "count": ("platform", "count offline from a file (no running stack needed)"),
            "contract": ("platform", "the published event contract (AsyncAPI)"),
        },
    ),
)
COMMANDS: dict[str, tuple[str, str]] = {name: entry for _, group in SECTIONS for name, entry in group.items()}


class LazyGroup(Group):
    """The root: lists every command from the table above, imports a command's module only to run it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"congress.cli.{COMMANDS[name][0]}")
        return getattr(module, name.replace("-", "_") + "_command")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # From the table, without importing every module just to read one line of help each.
        for title, group in SECTIONS:
            with formatter.section(title):
                formatter.write_dl([(name, text) for name, (_, text) in group.items()])


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,  # bare `congress`: the help, status 0, as before
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Every command over the API takes --url URL and --json (the API's answer as it is). "
    "The URL comes from --url, $CONGRESS_URL or the config file (default http://127.0.0.1:8000); "
    "the token from $CONGRESS_TOKEN or the config file ($CONGRESS_CONFIG, else "
    '~/.config/congress/config.json: {"url": "…", "token": "…"}); never from the command line.\n\n' + EXIT_CODES_HELP,
)
@click.version_option(__version__, "--version", prog_name="congress", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The congress platform's command line: every role's commands over the HTTP API."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


cli.context_class = Context


def main(argv: list[str] | None = None) -> int:
    try:
        result: Any = cli.main(args=argv, prog_name="congress", standalone_mode=False)
    except click.ClickException as exc:  # usage errors (status 2), shown with the usage line
        exc.show()
        return exc.exit_code
    except click.Abort:
        return EXIT_INTERRUPTED
    except CliError as exc:
        for line in exc.lines():
            print(f"congress: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `congress … | head`: the reader left; say nothing more, and don't let the flush at exit fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result if isinstance(result, int) else 0


__all__ = ["EXIT_USAGE", "cli", "main"]


if __name__ == "__main__":
    sys.exit(main())
