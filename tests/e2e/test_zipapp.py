"""The one-file build: scripts/build-zipapp.sh makes ckrv.pyz, and a Python with nothing but its
standard library runs the whole product from it: serve (whose workers run from the same file,
with HOME set to their workspace), an admin token, `run --cloud`, `logs -f` and `pull`, and
`demo`. Select with `-m zipapp`; building needs the package index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.helpers import ROOT, Server, base_env, git, make_repo
from tests.support.processes import processes_mentioning

pytestmark = [pytest.mark.zipapp, pytest.mark.slow]


@dataclass
class Zipapp:
    pyz: Path
    python: Path  # a bare interpreter: no ckrv, no dependencies
    shiv_root: Path

    def env(self, config_dir: Path, **extra: str) -> dict[str, str]:
        env = base_env(config_dir)
        env.pop("PYTHONPATH")  # nothing from the repository: only what the file holds
        env["SHIV_ROOT"] = str(self.shiv_root)
        env.update(extra)
        return env

    def command(self) -> list[str]:
        return [str(self.python), str(self.pyz)]

    def run(
        self,
        config_dir: Path,
        *args: str,
        cwd: Path | None = None,
        input_text: str | None = None,
        **env: str,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command(), *args],
            capture_output=True,
            text=True,
            input=input_text,
            env=self.env(config_dir, **env),
            cwd=cwd or self.pyz.parent,
            timeout=120,
        )


@pytest.fixture(scope="module")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zipapp]:
    work = tmp_path_factory.mktemp("zipapp")
    pyz = work / "dist" / "ckrv.pyz"
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-zipapp.sh"), str(pyz)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    bare = work / "bare-python"
    venv.EnvBuilder(with_pip=False).create(bare)
    python = bare / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import click"], capture_output=True)
    assert probe.returncode != 0, "the bare interpreter must not have ckrv's dependencies"
    yield Zipapp(pyz, python, work / "shiv")


def test_the_file_holds_every_runtime_dependency(zipapp: Zipapp, config_dir: Path) -> None:
    import zipfile

    with zipfile.ZipFile(zipapp.pyz) as archive:
        names = archive.namelist()
    for package in ("ckrv", "kubernetes", "uvicorn", "starlette", "cryptography", "argon2"):
        assert f"site-packages/{package}/__init__.py" in names, package
    assert "site-packages/ckrv/worker/agents/example_agent.py" in names
    assert "site-packages/ckrv/server/templates/docs.html" in names
    assert zipapp.pyz.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    first = zipapp.run(config_dir, "--version")  # unpacks on first run
    assert first.returncode == 0 and first.stdout.startswith("ckrv "), first.stderr
    again = zipapp.run(config_dir, "--version")  # the launcher's fast path
    assert again.stdout == first.stdout
    unpacked = list(zipapp.shiv_root.glob("ckrv.pyz_*/site-packages/ckrv/__init__.py"))
    assert len(unpacked) == 1, "the file unpacks into one directory under SHIV_ROOT"
    site_packages = unpacked[0].parent.parent
    imports = subprocess.run(
        [str(zipapp.python), "-c", "import kubernetes.client, uvicorn, httptools, argon2"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site_packages), "PATH": os.environ["PATH"]},
    )
    assert imports.returncode == 0, imports.stderr  # compiled parts match the interpreter


def test_full_flow_from_the_one_file(zipapp: Zipapp, tmp_path: Path, config_dir: Path) -> None:
    # the server and its workers, the admin and the CLI all run from ckrv.pyz on a bare Python;
    # the job uses the example agent bundled in the file
    agent = [str(zipapp.python), "-m", "ckrv.worker.agents.example_agent", "{spec_file}"]
    config = tmp_path / "ckrv.toml"
    config.write_text(
        '[server]\nallow_local_repositories = true\ndefault_agent = "example"\n\n'
        f"[agents.example]\ncommand = {json.dumps(agent)}\n"
    )
    server = start_server(zipapp, tmp_path, config_dir, config)
    try:
        data = ("admin", "--data-dir", str(server.data_dir))
        added = zipapp.run(
            config_dir,
            *data,
            "user",
            "add",
            "zip@example.com",
            "--password-stdin",
            input_text="pw-zipapp-1",
        )
        assert added.returncode == 0, added.stderr
        token = zipapp.run(config_dir, *data, "token", "create", "zip@example.com")
        assert token.returncode == 0, token.stderr
        env = {"CHAKRAVARTI_API_URL": server.api_url, "CKRV_TOKEN": token.stdout.strip()}

        origin = make_repo(tmp_path / "repo", {"hello.py": "print('hi')\n"})
        checkout = tmp_path / "checkout"
        git(tmp_path, "clone", "-q", str(origin), str(checkout))
        spec = tmp_path / "spec.md"
        spec.write_text("# Add a module\n\n```python file=added.py\nVALUE = 42\n```\n")

        queued = zipapp.run(
            config_dir, "run", "--cloud", "--spec", str(spec), "--json", cwd=checkout, **env
        )
        assert queued.returncode == 0, queued.stderr
        job_id = json.loads(queued.stdout)["id"]

        # the bare interpreter has no ckrv: the worker and the agent ran from the unpacked file

        logs = zipapp.run(config_dir, "logs", job_id[:8], "-f", cwd=checkout, **env)
        assert logs.returncode == 0, logs.stdout + logs.stderr
        assert "example: ckrv example agent: a scripted stand-in" in logs.stdout
        assert "example: creating added.py" in logs.stdout

        pulled = zipapp.run(config_dir, "pull", job_id[:8], cwd=checkout, **env)
        assert pulled.returncode == 0, pulled.stderr
        assert (checkout / "added.py").read_text() == "VALUE = 42\n"
        assert "1 file changed" in pulled.stdout
    finally:
        assert server.stop() == 0


def start_server(zipapp: Zipapp, tmp_path: Path, config_dir: Path, config: Path) -> Server:
    """`ckrv.pyz serve` on a free loopback port (tests.support.helpers.Server stops it)."""
    server = Server(data_dir=tmp_path / "data", config_dir=config_dir, config=config)
    args = [*zipapp.command(), "serve", "--data-dir", str(server.data_dir), "--port", "0"]
    proc = subprocess.Popen(
        [*args, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=zipapp.env(config_dir),
        cwd=tmp_path,
    )
    server.proc = proc
    assert proc.stdout is not None
    for line in proc.stdout:
        server.output.append(line)
        if "listening on http://" in line:
            server.url = line.split("listening on ", 1)[1].strip()
            break
    else:
        raise AssertionError("ckrv.pyz serve exited early:\n" + "".join(server.output))
    threading.Thread(target=server.output.extend, args=(proc.stdout,), daemon=True).start()
    server.wait_healthy(timeout=30)
    return server


def test_demo_from_the_one_file(zipapp: Zipapp, tmp_path: Path, config_dir: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    result = zipapp.run(config_dir, "demo", TMPDIR=str(tmp))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 files changed, 17 insertions(+), 1 deletion(-)" in result.stdout
    assert f"Next: run a server of your own (`{zipapp.pyz} serve`)" in result.stdout
    assert list(tmp.iterdir()) == []
    assert processes_mentioning(tmp) == []
