"""A real `sshd` on a loopback port for deploy-key tests, run as the current user with its own
config, host key and authorized_keys. `start_sshd` skips the test where sshd is missing or
cannot run (Debian: apt-get install openssh-server)."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.prerequisites import require

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
HAVE_SSHD = os.path.exists(SSHD)

_CONFIG = """ListenAddress 127.0.0.1
HostKey {root}/host_key
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
"""


@dataclass
class Sshd:
    root: Path
    port: int
    user: str
    proc: subprocess.Popen[bytes]

    def url(self, repo: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{repo}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def client_key(self) -> str:
        """A private key sshd accepts."""
        return (self.root / "client_key").read_text()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()


def keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ckrv-test", "-f", str(path)],
        check=True,
    )
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sshd(root: Path) -> Sshd:
    require(HAVE_SSHD, "sshd is not installed (apt-get install openssh-server)")
    root.mkdir(parents=True, exist_ok=True)
    keygen(root / "host_key")
    keygen(root / "client_key")
    shutil.copy(root / "client_key.pub", root / "authorized_keys")
    (root / "sshd_config").write_text(_CONFIG.format(root=root))
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    line = ""
    for _ in range(5):  # another process may take the port between the probe and sshd's bind
        port = _free_port()
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(root / "sshd_config"), "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        if "Server listening" in line:
            return Sshd(root, port, getpass.getuser(), proc)
        proc.kill()
        proc.wait()
        proc.stderr.close()
    require(False, f"sshd could not start here: {line.strip()}")
    raise AssertionError("unreachable: require(False) skips or fails")
