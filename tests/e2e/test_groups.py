"""Best-of-N groups end to end: a real server whose workers run three scripted agents on one
spec, each with the same verify command (the repository's own check, run in the job's sandbox
after the agent); `ckrv run --cloud --agents`, `ckrv compare --pick auto`, `ckrv pull GROUP`,
`ckrv cancel GROUP`, and a group over the quota, as a user runs them."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import Server, git, make_repo, wait_for
from tests.support.inprocess import InProcessCli
from tests.support.jobhelpers import logs, processes_with, wait_status
from tests.support.servers import SCRIPTED_AGENT, write_config

# Three agents, one scripted agent each in its own role (a second argument), all verified by
# the repository's check.sh: "tests" that pass only when greet.sh prints "hello world".
AGENTS = "".join(
    f"""
[agents.{role}]
command = ["{sys.executable}", "{SCRIPTED_AGENT}", "{{spec_file}}", "{role}"]
verify = ["sh", "check.sh"]
"""
    for role in ("breaker", "large", "small")
)
NOTES = "\\n".join(f"note {i}" for i in range(40)) + "\\n"
# The breaker's change is as small as the small one's and comes sooner: only its failed
# verify ranks it below. The large one is correct but adds 40 lines.
SPEC = f"""# Greet the world
@breaker write greet.sh echo hello wrld\\n
@large write greet.sh echo hello world\\n
@large write notes.txt {NOTES}
@small sleep 1
@small write greet.sh echo hello world\\n
"""
CHECK = 'test "$(sh greet.sh)" = "hello world"\n'


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("groups")
    (root / "config").mkdir()
    config = write_config(root, extra=AGENTS, capacity=4)
    server = Server(data_dir=root / "data", config_dir=root / "config", config=config).start()
    yield server
    server.shutdown()


def user_cli(srv: Server, tmp_path: Path, email: str, tier: str) -> InProcessCli:
    """`ckrv` signed in as a new user, in a clone of a fresh repository."""
    origin = make_repo(
        tmp_path / "origin", {"greet.sh": "echo hello\n", "check.sh": CHECK, "README.md": "#\n"}
    )
    git(tmp_path, "clone", "-q", str(origin), "work")
    (tmp_path / "cli-config").mkdir()
    token = srv.add_user(email, tier=tier)
    return InProcessCli(
        config_dir=tmp_path / "cli-config",
        api_url=srv.api_url,
        token=token,
        cwd=tmp_path / "work",
    )


@contextmanager
def signed_in_browser(srv: Server, email: str) -> Iterator[httpx.Client]:
    """An HTTP client holding a dashboard session (the sign-in form, CSRF token included)."""
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        form = client.get("/signin").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, form
        signed = client.post(
            "/signin",
            data={"email": email, "password": "correct-horse-1", "csrf_token": token.group(1)},
        )
        assert signed.status_code in (200, 303) and "ckrv_session" in client.cookies, signed.text
        yield client


def spec_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "spec.md"
    path.write_text(text)
    return str(path)


def test_three_agents_rank_the_small_verified_change_first_and_pull_applies_it(
    srv: Server, tmp_path: Path
) -> None:
    ckrv = user_cli(srv, tmp_path, "ranker@example.com", "pro")
    spec = spec_file(tmp_path, SPEC)
    group = ckrv.json("run", "--cloud", "--spec", spec, "--agents", "breaker,large,small", "--wait")
    by_agent = {a["agent"]: a for a in group["attempts"]}
    assert [a["status"] for a in group["attempts"]] == ["succeeded"] * 3, group
    assert {name: a["verified"] for name, a in by_agent.items()} == {
        "breaker": False,
        "large": True,
        "small": True,
    }
    assert by_agent["small"]["lines_changed"] == by_agent["breaker"]["lines_changed"] == 2
    assert by_agent["large"]["lines_changed"] == 42
    assert group["ranking"] == [by_agent[n]["attempt"] for n in ("small", "large", "breaker")]
    assert group["pick"] == by_agent["small"]["attempt"] == 3

    compared = ckrv.run("compare", group["id"], "--pick", "auto")
    assert compared.returncode == 0, compared.stderr
    rows = [line.split() for line in compared.stdout.splitlines()[2:5]]
    assert [(row[0], row[3]) for row in rows] == [("1", "small"), ("2", "large"), ("3", "breaker")]
    assert [row[5] for row in rows] == ["passed", "passed", "failed"]
    assert "pick: attempt 3" in compared.stdout and f"ckrv pull {group['id']}" in compared.stdout

    status = ckrv.run("status", by_agent["small"]["job_id"])
    assert f"group       attempt 3 of {group['id']} (`ckrv compare {group['id']}`)" in status.stdout

    pulled = ckrv.run("pull", group["id"])
    assert pulled.returncode == 0, pulled.stderr
    work = tmp_path / "work"
    assert (work / "greet.sh").read_text() == "echo hello world\n"
    assert not (work / "notes.txt").exists()  # the large attempt's file is not here

    git(work, "checkout", "-q", "--", ".")
    other = ckrv.run("pull", group["id"], "--attempt", str(by_agent["large"]["attempt"]))
    assert other.returncode == 0, other.stderr
    assert (work / "notes.txt").read_text().count("note") == 40

    # The dashboard's side-by-side page: the same order, the pick marked; another user's 404.
    with signed_in_browser(srv, "ranker@example.com") as browser:
        shown = browser.get(f"/groups/{group['id']}")
        assert shown.status_code == 200, shown.text
        assert re.findall(r'data-attempt="(\d+)"', shown.text) == ["3", "2", "1"]
        assert 'data-attempt="3" class="pick"' in shown.text
        assert f"ckrv pull {group['id']}" in shown.text
        job_page = browser.get(f"/jobs/{by_agent['small']['job_id']}").text
        assert f'href="/groups/{group["id"]}"' in job_page
    srv.add_user("stranger@example.com", tier="free")
    with signed_in_browser(srv, "stranger@example.com") as stranger:
        missing = stranger.get(f"/groups/{group['id']}")
        assert missing.status_code == 404 and "Greet" not in missing.text


def test_compare_shows_the_cost_agents_report_summed_over_fix_rounds_and_ignores_garbage(
    srv: Server, tmp_path: Path
) -> None:
    ckrv = user_cli(srv, tmp_path, "payer@example.com", "pro")
    spec = spec_file(
        tmp_path,
        "# Greet the world\n"
        "@breaker cost 0.25\n@breaker write greet.sh echo hello wrld\\n\n"
        '@breaker onfix cost {"cost_usd": 0.5}\n'
        "@breaker onfix write greet.sh echo hello world\\n\n"
        '@small cost {"cost_usd": "lots"}\n@small write greet.sh echo hello world\\n\n',
    )
    group = ckrv.json(
        "run", "--cloud", "--spec", spec, "--agents", "breaker,small", "--fix-rounds", "1", "--wait"
    )
    by_agent = {a["agent"]: a for a in group["attempts"]}
    assert [a["status"] for a in group["attempts"]] == ["succeeded"] * 2, group
    assert by_agent["breaker"]["job"]["rounds"] == 1
    assert by_agent["breaker"]["cost_usd"] == 0.75  # both runs of the agent
    assert by_agent["small"]["cost_usd"] is None  # what it wrote is not a cost

    compared = ckrv.run("compare", group["id"])
    assert compared.returncode == 0, compared.stderr
    rows = [line.split() for line in compared.stdout.splitlines()]
    costs = {row[2]: row[-1] for row in rows if row and row[0].isdigit()}
    assert costs == {"breaker": "$0.75", "small": "-"}
    warned = logs(srv.data_dir, by_agent["small"]["job_id"])
    assert (
        "ignored the agent's cost file (CKRV_COST_FILE): it is not a number or "
        '{"cost_usd": NUMBER}' in warned
    )
    status = ckrv.run("status", by_agent["breaker"]["job_id"])
    assert "cost        $0.75 (as the agent reported it)" in status.stdout
    with signed_in_browser(srv, "payer@example.com") as browser:
        assert "$0.75" in browser.get(f"/groups/{group['id']}").text


def test_cancelling_a_group_cancels_every_job_and_ends_its_processes(
    srv: Server, tmp_path: Path
) -> None:
    ckrv = user_cli(srv, tmp_path, "canceller@example.com", "pro")
    spec = spec_file(tmp_path, "# Wait\nprint started\nsleep 120\n")
    group = ckrv.json("run", "--cloud", "--spec", spec, "--attempts", "3")
    job_ids = [a["job_id"] for a in group["attempts"]]
    with srv.client(ckrv.token) as api:
        for job_id in job_ids:
            wait_status(api, job_id, {"running"})
        cancelled = ckrv.run("cancel", group["id"])
        assert cancelled.returncode == 0, cancelled.stderr
        assert cancelled.stdout.count("cancelled") == 3
        assert [api.get(f"/jobs/{j}").json()["status"] for j in job_ids] == ["cancelled"] * 3
    wait_for(
        lambda: not any(processes_with(j) for j in job_ids),
        timeout=20,
        what="the cancelled attempts' processes to end",
    )
    again = ckrv.run("cancel", group["id"])
    assert again.returncode == 1 and "already ended" in again.stderr


def test_a_group_over_the_quota_is_refused_whole(srv: Server, tmp_path: Path) -> None:
    ckrv = user_cli(srv, tmp_path, "frugal@example.com", "free")  # 10 jobs a month
    spend = ckrv.json(
        "run", "--cloud", "--spec", spec_file(tmp_path, "# Nothing\n"), "--attempts", "8"
    )
    with srv.client(ckrv.token) as api:
        for attempt in spend["attempts"]:
            wait_status(api, attempt["job_id"])
        refused = ckrv.run(
            "run", "--cloud", "--spec", spec_file(tmp_path, "# More\n"), "--attempts", "3"
        )
        assert refused.returncode == 5, refused.stderr
        assert "needs 3 jobs, and 2 of the free tier's 10 jobs per month are left" in refused.stderr
        assert "No job was created" in refused.stderr and "it resets" in refused.stderr
        assert api.get("/users/me").json()["jobs_used"] == 8
        assert len(api.get("/jobs", params={"limit": 100}).json()["jobs"]) == 8
    fits = ckrv.json("run", "--cloud", "--spec", spec_file(tmp_path, "# Two\n"), "--attempts", "2")
    assert len(fits["attempts"]) == 2


@pytest.mark.browser
@pytest.mark.slow
def test_the_group_page_is_accessible_fits_a_phone_and_loads_nothing_foreign(
    srv: Server, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from tests.support.browser import DESKTOP, RequestLog, audit, launch, sign_in

    ckrv = user_cli(srv, tmp_path, "viewer@example.com", "pro")
    spec = spec_file(tmp_path, SPEC)
    group = ckrv.json("run", "--cloud", "--spec", spec, "--agents", "small,breaker", "--wait")
    requests = RequestLog(srv.url)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            context = chromium.new_context(viewport=DESKTOP)
            requests.watch(context)
            page = context.new_page()
            sign_in(page, srv.url, "viewer@example.com")
            page.goto(f"{srv.url}/groups/{group['id']}")
            page.get_by_role("heading", name="Greet the world").wait_for()
            assert page.locator("tr.pick").get_attribute("data-attempt") == "1"
            state = context.storage_state()
            found = audit(chromium, state, f"{srv.url}/groups/{group['id']}", "group")
            context.close()
        finally:
            chromium.close()
    assert found == []
    assert requests.foreign() == [] and requests.violations == []
