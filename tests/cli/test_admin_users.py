"""`ckrv admin` on a data dir: only `init` (and `ckrv serve`) creates one, so a mistyped
--data-dir is an error; set-admin, disable/enable, reset-password, remove; a short password
is refused before it is asked a second time; `token list` shows when a token was last used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.helpers import PASSWORD
from tests.support.inprocess import InProcessCli, Ran

EMAIL = "ada@example.com"


def admin(ckrv: InProcessCli, data_dir: Path, *args: str, input: str | None = None) -> Ran:
    return ckrv("admin", "--data-dir", str(data_dir), *args, input=input)


@pytest.fixture
def data_dir(ckrv: InProcessCli, tmp_path: Path) -> Path:
    path = tmp_path / "data"
    made = admin(ckrv, path, "init")
    assert made.returncode == 0 and f"created the data dir {path}" in made.stdout
    added = admin(ckrv, path, "user", "add", EMAIL, "--password-stdin", input=PASSWORD)
    assert added.returncode == 0, added.stderr
    return path


def users(ckrv: InProcessCli, data_dir: Path) -> dict[str, dict[str, object]]:
    listed = json.loads(admin(ckrv, data_dir, "user", "list", "--json").stdout)
    return {u["email"]: u for u in listed}


@pytest.mark.parametrize(
    "args",
    [
        ["user", "list"],
        ["user", "add", "bob@example.com", "--password-stdin"],
        ["token", "create", EMAIL],
        ["rotate-key"],
        ["user", "disable", EMAIL],
    ],
)
def test_a_mistyped_data_dir_is_refused_and_left_uncreated(
    ckrv: InProcessCli, data_dir: Path, args: list[str]
) -> None:
    typo = data_dir.parent / "dta"
    result = admin(ckrv, typo, *args, input=PASSWORD)
    assert result.returncode == 2
    assert f"no ckrv data dir at {typo}" in result.stderr
    assert f"ckrv admin --data-dir {typo} init" in result.stderr
    assert not typo.exists()


def test_init_twice_changes_nothing(ckrv: InProcessCli, data_dir: Path) -> None:
    key = (data_dir / "keys" / "master.keys").read_bytes()
    again = admin(ckrv, data_dir, "init")
    assert again.returncode == 0 and "already holds a data dir" in again.stdout
    assert (data_dir / "keys" / "master.keys").read_bytes() == key
    assert list(users(ckrv, data_dir)) == [EMAIL]


def test_a_short_password_is_refused_at_the_first_prompt(
    ckrv: InProcessCli, data_dir: Path
) -> None:
    result = admin(ckrv, data_dir, "user", "add", "bob@example.com", input="short\n")
    assert result.returncode == 2
    assert "at least 8 characters" in result.stderr
    assert "Repeat" not in result.stdout + result.stderr
    differ = admin(
        ckrv, data_dir, "user", "add", "bob@example.com", input=f"{PASSWORD}\nother-pass-9\n"
    )
    assert differ.returncode == 2 and "the two passwords differ" in differ.stderr
    assert list(users(ckrv, data_dir)) == [EMAIL]


def test_admin_flag_and_disabling_show_in_the_user_list(ckrv: InProcessCli, data_dir: Path) -> None:
    added = admin(
        ckrv,
        data_dir,
        "user",
        "add",
        "root@example.com",
        "--admin",
        "--password-stdin",
        input=PASSWORD,
    )
    assert "(free, administrator)" in added.stdout
    assert users(ckrv, data_dir)["root@example.com"]["admin"] is True
    assert users(ckrv, data_dir)[EMAIL]["admin"] is False

    assert admin(ckrv, data_dir, "user", "set-admin", EMAIL).returncode == 0
    assert users(ckrv, data_dir)[EMAIL]["admin"] is True
    off = admin(ckrv, data_dir, "user", "set-admin", EMAIL, "--off")
    assert "no longer an administrator" in off.stdout
    assert users(ckrv, data_dir)[EMAIL]["admin"] is False

    disabled = admin(ckrv, data_dir, "user", "disable", EMAIL)
    assert disabled.returncode == 0 and "cannot sign in" in disabled.stdout
    assert users(ckrv, data_dir)[EMAIL]["disabled_at"]
    table = admin(ckrv, data_dir, "user", "list").stdout
    assert [line.split()[-1] for line in table.splitlines()[1:]] == ["disabled", "active"]
    assert admin(ckrv, data_dir, "user", "enable", EMAIL).returncode == 0
    assert users(ckrv, data_dir)[EMAIL]["disabled_at"] is None

    unknown = admin(ckrv, data_dir, "user", "disable", "nobody@example.com")
    assert unknown.returncode == 4 and "no user with email" in unknown.stderr


def test_reset_password_and_remove(ckrv: InProcessCli, data_dir: Path) -> None:
    reset = admin(
        ckrv,
        data_dir,
        "user",
        "reset-password",
        EMAIL,
        "--password-stdin",
        input="new-password-2\n",
    )
    assert reset.returncode == 0 and "CLI logins were ended" in reset.stdout
    short = admin(ckrv, data_dir, "user", "reset-password", EMAIL, "--password-stdin", input="x")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr

    admin(ckrv, data_dir, "token", "create", EMAIL)
    asked = admin(ckrv, data_dir, "user", "remove", EMAIL, input="n\n")
    assert asked.returncode != 0 and EMAIL in users(ckrv, data_dir)
    removed = admin(ckrv, data_dir, "user", "remove", EMAIL, "--yes")
    assert removed.returncode == 0 and "with 0 job(s)" in removed.stdout
    assert users(ckrv, data_dir) == {}
    assert json.loads(admin(ckrv, data_dir, "token", "list", "--json").stdout) == []


def test_token_list_has_a_last_used_column(ckrv: InProcessCli, data_dir: Path) -> None:
    admin(ckrv, data_dir, "token", "create", EMAIL)
    header, row = admin(ckrv, data_dir, "token", "list").stdout.splitlines()[:2]
    assert "LAST USED" in header and "never" in row
