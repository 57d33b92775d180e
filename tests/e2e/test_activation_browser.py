"""The device flow end to end in a real browser: `ckrv cloud login --no-browser` runs against a
real server while Playwright drives Debian's Chromium through the activation page (docs/security.md
items 5, 6). Never downloads a browser: it uses the `chromium` on PATH."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import PASSWORD, PYTHON, ROOT, Cli, Server

pytestmark = pytest.mark.browser

EMAIL = "ada@example.com"
PHONE = {"width": 390, "height": 844}
_CODE_LINE = re.compile(r"Open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})")


def start_server(directory: Path, **server: str | int) -> Server:
    (directory / "cfg").mkdir(parents=True, exist_ok=True)
    config = directory / "ckrv.toml"
    settings = {"device_poll_interval": 1, **server}
    lines = [f"{k} = {v!r}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in settings.items()]
    config.write_text("[server]\n" + "\n".join(lines) + "\n")
    srv = Server(data_dir=directory / "data", config_dir=directory / "cfg", config=config)
    srv.start()
    srv.admin("user", "add", EMAIL, "--name", "Ada", "--password-stdin", input=PASSWORD + "\n")
    return srv


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("browser-server"))
    yield server
    assert server.stop() == 0


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@dataclass
class Login:
    """A running `ckrv cloud login --no-browser` and what it printed first."""

    proc: subprocess.Popen[str]
    stderr: Any
    url: str = ""
    code: str = ""

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """Wait for the CLI to exit: (exit code, stdout, stderr)."""
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()  # to EOF: the CLI exits once the flow ends
        code = self.proc.wait(timeout=timeout)
        self.proc.stdout.close()
        self.stderr.seek(0)
        err = self.stderr.read()
        self.stderr.close()
        return code, out, err


StartLogin = Callable[[Cli], Login]


@pytest.fixture
def start_login() -> Iterator[StartLogin]:
    """Starts `ckrv cloud login --no-browser`; a login the test did not finish is killed."""
    started: list[Login] = []

    def start(cli: Cli) -> Login:
        stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by Login.finish
        command = [PYTHON, "-m", "ckrv", "cloud", "login", "--no-browser"]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=cli.env(), cwd=ROOT
        )
        login = Login(proc, stderr)
        started.append(login)
        assert login.proc.stdout is not None
        first = login.proc.stdout.readline()
        match = _CODE_LINE.search(first)
        assert match, first
        login.url, login.code = match.group(1), match.group(2)
        return login

    yield start
    for login in started:
        if not login.stderr.closed:
            login.proc.kill()
            login.finish()


@pytest.fixture
def cli(srv: Server, tmp_path: Path) -> Cli:
    return Cli(config_dir=tmp_path / "cli", api_url=srv.api_url)


def status_of(srv: Server, code: str) -> str:
    with sqlite3.connect(srv.data_dir / "ckrv.db") as conn:
        row = conn.execute("SELECT status FROM device_codes WHERE user_code = ?", (code,))
        return str(row.fetchone()[0])


def sign_in(page: Any, url: str, code: str | None, password: str = PASSWORD) -> None:
    """Fill in the activation form (the code too, unless it is pre-filled) and continue."""
    page.goto(url)
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(password)
    if code is not None:
        page.get_by_label("Code shown in your terminal").fill(code)
    page.get_by_role("button", name="Continue").click()


def assert_readable_on_a_phone(page: Any) -> None:
    metrics = page.evaluate(
        """() => ({
            overflow: document.documentElement.scrollWidth - window.innerWidth,
            font: parseFloat(getComputedStyle(document.body).fontSize),
            buttons: [...document.querySelectorAll('button')].map(b => b.offsetHeight),
        })"""
    )
    assert metrics["overflow"] <= 0, "the page scrolls sideways on a phone"
    assert metrics["font"] >= 16
    assert all(height >= 44 for height in metrics["buttons"]), metrics  # thumb-sized targets


def test_approve_in_the_browser_logs_the_cli_in(
    srv: Server, cli: Cli, page: Any, tmp_path: Path, start_login: StartLogin
) -> None:
    login = start_login(cli)
    assert login.url == f"{srv.url}/activate"
    sign_in(page, login.url, login.code.lower().replace("-", " "))  # typed loosely

    page.get_by_role("heading", name="Approve this device?").wait_for()
    details = page.inner_text("dl")
    assert login.code in details
    assert "ckrv-cli" in details  # what asked
    assert "127.0.0.1" in details  # from where
    assert re.search(r"\d{4}-\d\d-\d\d", details)  # and when
    assert EMAIL in page.inner_text("main")
    screenshot = tmp_path / "approve-phone.png"
    page.screenshot(path=str(screenshot), full_page=True)
    if os.environ.get("CKRV_SCREENSHOT_DIR"):  # for a human to look at
        shutil.copy(screenshot, Path(os.environ["CKRV_SCREENSHOT_DIR"]) / screenshot.name)
    assert_readable_on_a_phone(page)

    page.get_by_role("button", name="Approve").click()
    page.get_by_role("heading", name="Device approved").wait_for()

    code, out, err = login.finish()
    assert code == 0, err
    assert f"Logged in to {srv.api_url} as {EMAIL}" in out
    whoami = cli.run("cloud", "whoami")
    assert whoami.returncode == 0, whoami.stderr
    assert re.search(rf"^email:\s+{re.escape(EMAIL)}$", whoami.stdout, re.M)
    assert re.search(r"^name:\s+Ada$", whoami.stdout, re.M)


def test_deny_in_the_browser_fails_the_cli(
    srv: Server, cli: Cli, page: Any, start_login: StartLogin
) -> None:
    login = start_login(cli)
    sign_in(page, login.url, login.code)
    page.get_by_role("button", name="Deny").click()
    page.get_by_role("heading", name="Request denied").wait_for()
    code, out, err = login.finish()
    assert code != 0
    assert "denied" in err
    assert "Logged in" not in out
    assert cli.run("cloud", "whoami").returncode == 3


def test_link_with_user_code_only_prefills(
    srv: Server, cli: Cli, page: Any, start_login: StartLogin
) -> None:
    login = start_login(cli)
    link = f"{login.url}?user_code={login.code}"  # what verification_uri_complete opens
    page.goto(link)
    assert page.get_by_label("Code shown in your terminal").input_value() == login.code
    assert status_of(srv, login.code) == "pending"  # a GET approves nothing
    sign_in(page, link, code=None)  # the code field is already filled in
    page.get_by_role("heading", name="Approve this device?").wait_for()

    page.goto(link)  # signed in now: still only a pre-filled form
    page.get_by_text(f"Signed in as {EMAIL}").wait_for()
    assert page.get_by_label("Code shown in your terminal").input_value() == login.code
    assert page.get_by_role("heading", name="Activate a device").is_visible()
    assert status_of(srv, login.code) == "pending"

    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Approve").click()
    page.get_by_role("heading", name="Device approved").wait_for()
    code, _out, err = login.finish()
    assert code == 0, err


_ATTACKER_PAGE = """<form method="post" action="{action}">
<input name="user_code" value="{code}"><input name="decision" value="approve">
<button>Win a prize</button></form>"""


def test_post_without_csrf_token_is_refused(
    srv: Server, cli: Cli, page: Any, start_login: StartLogin
) -> None:
    login = start_login(cli)
    sign_in(page, login.url, login.code)
    page.get_by_role("heading", name="Approve this device?").wait_for()
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    with page.expect_response(lambda r: r.url.endswith("/activate/decide")) as answer:
        page.get_by_role("button", name="Approve").click()
    assert answer.value.status == 403
    page.get_by_role("heading", name="Request refused").wait_for()
    assert status_of(srv, login.code) == "pending"

    # A form on another site posting to the server: the browser sends no session cookie
    # (SameSite=Strict) and the form has no token, so it lands on the sign-in form.
    attacker = _ATTACKER_PAGE.format(action=f"{srv.url}/activate/decide", code=login.code)
    page.route(
        "http://attacker.test/**",
        lambda route: route.fulfill(body=attacker, content_type="text/html"),
    )
    page.goto("http://attacker.test/")
    page.get_by_role("button", name="Win a prize").click()
    page.get_by_role("heading", name="Activate a device").wait_for()
    assert page.get_by_label("Password").count() == 1  # not signed in there
    assert status_of(srv, login.code) == "pending"

    # The real page still works afterwards.
    page.goto(f"{login.url}?user_code={login.code}")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Approve").click()
    page.get_by_role("heading", name="Device approved").wait_for()
    assert login.finish()[0] == 0


def test_expired_code_is_rejected_by_the_page(
    tmp_path: Path, page: Any, start_login: StartLogin
) -> None:
    srv = start_server(tmp_path / "short", device_code_ttl="2s")
    try:
        cli = Cli(config_dir=tmp_path / "cli", api_url=srv.api_url)
        login = start_login(cli)
        code, _out, err = login.finish()  # the CLI gives up once the code has expired
        assert code != 0 and "expired" in err
        sign_in(page, login.url, login.code)
        page.get_by_text("That code is not valid or has expired").wait_for()
        assert page.get_by_role("heading", name="Approve this device?").count() == 0
        assert status_of(srv, login.code) == "pending"
    finally:
        assert srv.stop() == 0
