"""Fixtures shared by every level. Tests are laid out by level:

- tests/unit: one module or component in-process, no server process
- tests/api: the HTTP API, on the in-process app or a real `ckrv serve` on loopback
- tests/cli: the command line
- tests/e2e: workers, git, the browser, restarts, the zipapp
- tests/k8s: the Kubernetes executor, manifests, simulated and real clusters
- tests/support: the code they share (servers, job helpers, git and ssh daemons, the scripted
  agent, the simulated cluster)

One fixture vocabulary: a name means one type wherever a test module defines or overrides it.

    server      Server: a fresh `ckrv serve` per test (scripted agent, local repositories)
    live        Server: one `ckrv serve` shared by a module's tests (each test makes its user)
    srv         Server: a module's own `ckrv serve`, configured for what it tests
    config_dir  Path: the client's config directory for `server`
    cli         Cli: the `ckrv` executable run as a process, pointed at the module's server
    user_cli    Cli: `cli` signed in as a user
    ckrv        InProcessCli: `ckrv ARGS` run in this process (tests/support/inprocess.py)
    user_ckrv   InProcessCli: `ckrv` signed in as a user
    api         httpx.Client: signed in as a user of a running Server, based at /v1
    client      Any (starlette TestClient): the in-process app, nobody signed in
    inproc      Any (starlette TestClient): the in-process app, one user signed in
    data_dir    Path: a server's data directory
    token       str: an access token of the module's user
    repo        Path: a local git repository a job can clone
    origin      Path: the repository a checkout was cloned from
    checkout    Path: a user's working tree
    sim         SimCluster: the simulated Kubernetes cluster
    kube        kubernetes ApiClient: talking to `sim`
    browser     Any: a launched Chromium (tests/e2e/conftest.py)
    page        Any: a page of `browser` (tests/e2e/conftest.py; a module may override it)

Async tests are `async def` marked `pytest.mark.anyio` (anyio's pytest plugin), on asyncio.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import Cli, Server
from tests.support.processes import end_processes_mentioning
from tests.support.servers import start_server, write_config


@pytest.fixture(autouse=True)
def one_at_a_time_when_alone(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """A test marked `alone` measures timing: while it runs, no other test runs in another
    xdist process. Every test holds a shared lock on a file all the processes see; an `alone`
    test holds it exclusively (so it waits for the running tests, and they for it)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's directory, above each process's own
    alone = request.node.get_closest_marker("alone") is not None
    with open(root / "alone.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


STAND_INS = Path(__file__).parent / "support" / "bin"


@pytest.fixture(scope="session", autouse=True)
def preset_programs_on_path() -> Iterator[None]:
    """The presets' programs (claude, codex, gemini, aider) as stand-ins that exit 1 at once,
    first on PATH for this process and the servers it starts: the server refuses a job whose
    agent's program is not installed, and tests create jobs for the default preset without
    running a model. A test of that refusal sets its own PATH."""
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{STAND_INS}{os.pathsep}{before}"
    yield
    os.environ["PATH"] = before


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests (marked `anyio`) run on asyncio, the loop the server runs on."""
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the last test, no process this session started (a server, a worker, an agent,
    a daemon: all live under the session's temporary directory) may still run. Whatever is
    found is ended, and the run fails naming it: the fixture that started it should have."""
    yield
    left = end_processes_mentioning(tmp_path_factory.getbasetemp())
    assert not left, "processes left running after the tests:\n" + "\n".join(left)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.mkdir()
    return path


@pytest.fixture
def server(tmp_path: Path, config_dir: Path) -> Iterator[Server]:
    """A running server allowing local repositories, with the scripted agent as default."""
    srv = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=write_config(tmp_path))
    srv.start()
    yield srv
    srv.shutdown()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One running server shared by a module's tests (each test makes its own user)."""
    srv = start_server(tmp_path_factory.mktemp("live"))
    yield srv
    srv.shutdown()


@pytest.fixture
def cli(server: Server, config_dir: Path) -> Cli:
    return Cli(config_dir=config_dir, api_url=server.api_url)
