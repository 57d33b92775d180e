"""Every command and subcommand's --help says what it does, explains each option, and shows at
least one example: the whole click tree is walked (lazy commands included), so a new command
without them fails here."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from ckrv.cli.main import cli


def walk(
    command: click.Command, path: tuple[str, ...], parent: click.Context | None = None
) -> Iterator[tuple[tuple[str, ...], click.Command, click.Context]]:
    ctx = click.Context(command, info_name=path[-1], parent=parent)
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path)} lists {name} but cannot load it"
            yield from walk(sub, (*path, name), ctx)


COMMANDS = list(walk(cli, ("ckrv",)))
IDS = [" ".join(path) for path, _, _ in COMMANDS]


def test_the_walk_reaches_nested_lazy_commands() -> None:
    assert {"ckrv demo", "ckrv admin user add", "ckrv cloud credentials add"} <= set(IDS)


@pytest.mark.parametrize(("path", "command", "ctx"), COMMANDS, ids=IDS)
def test_help_says_what_it_does_and_shows_an_example(
    path: tuple[str, ...], command: click.Command, ctx: click.Context
) -> None:
    text = command.get_help(ctx)
    description = (command.help or "").strip()
    assert description, f"`{' '.join(path)} --help` does not say what the command does"
    example = text[text.find("Example") :] if "Example" in text else ""
    assert example, f"`{' '.join(path)} --help` has no Example section"
    assert f"{path[0]} " in example.split("\n", 1)[1], "the example does not show a command line"


@pytest.mark.parametrize(("path", "command", "ctx"), COMMANDS, ids=IDS)
def test_every_option_is_explained(
    path: tuple[str, ...], command: click.Command, ctx: click.Context
) -> None:
    unexplained = [
        param.opts[0]
        for param in command.get_params(ctx)
        if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip()
    ]
    assert not unexplained, f"`{' '.join(path)} --help` leaves {unexplained} unexplained"
