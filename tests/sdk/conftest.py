"""Session fixtures: one real `rosterflow serve`, bearer tokens from `rosterflow token`,
and official `GraphServiceClient`s aimed at it (sdk-clients.md §7.1).

Environment:
    ROSTERFLOW_BIN           path of the rosterflow binary (default: newest of target/{release,debug}/rosterflow)
    ROSTERFLOW_DATABASE_URL  passed to `serve` as --database-url when set (e.g. postgres://...)
    ROSTERFLOW_SDK_PHASE=1   phase-1 server: mint outbound-flow permissions only; skip test_configuration_api.py
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pytest
from msgraph_beta import GraphServiceClient

from helpers import HOST, PHASE_1_ONLY, graph_client

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30.0
SERVER_LOG_TAIL = pytest.StashKey[str]()

OUTBOUND = "IndustryData-OutboundFlow"
PHASE_2_FAMILIES = (
    "IndustryData-DataConnector",
    "IndustryData-InboundFlow",
    "IndustryData-SourceSystem",
    "IndustryData-TimePeriod",
    "IndustryData-ReferenceDefinition",
)
# A phase-1 server may not know the phase-2 permission names yet, so only mint what it implements.
FAMILIES = (OUTBOUND,) if PHASE_1_ONLY else (OUTBOUND, *PHASE_2_FAMILIES)
EXTRA_READ = () if PHASE_1_ONLY else ("IndustryData.ReadBasic.All", "IndustryData-Run.Read.All")
EXTRA_WRITE = () if PHASE_1_ONLY else ("IndustryData-DataConnector.Upload", "IndustryData-Run.Start")
# Everything a tenant administrator could hold.
ALL_SCOPES = [f"{f}.{level}" for f in FAMILIES for level in ("Read.All", "ReadWrite.All")] + [*EXTRA_READ, *EXTRA_WRITE]
# Every read permission, no write permission.
READ_SCOPES = [f"{f}.Read.All" for f in FAMILIES] + list(EXTRA_READ)


def find_binary() -> Path:
    configured = os.environ.get("ROSTERFLOW_BIN")
    if configured:
        return Path(shutil.which(configured) or configured).resolve()
    built = [p for p in (REPO_ROOT / "target/release/rosterflow", REPO_ROOT / "target/debug/rosterflow") if p.exists()]
    if not built:
        pytest.exit("rosterflow binary not found: build it (cargo build --release) or set ROSTERFLOW_BIN", 2)
    return max(built, key=lambda p: p.stat().st_mtime)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Rosterflow:
    """A running server plus helpers to mint tokens and build clients for it."""

    binary: Path
    data_dir: Path
    port: int
    log_path: Path
    process: Optional[subprocess.Popen] = None
    # More `serve` arguments and environment (the shared-file-store test runs replicas on Azurite).
    extra_args: list[str] = field(default_factory=list)
    env: Optional[dict] = None
    database_url: Optional[str] = field(default_factory=lambda: os.environ.get("ROSTERFLOW_DATABASE_URL"))
    _tokens: dict = field(default_factory=dict)
    _clients: dict = field(default_factory=dict)

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/beta"

    @property
    def industry_data_url(self) -> str:
        """Absolute URL of /external/industryData, for `<nav>@odata.bind` values."""
        return f"{self.base_url}/external/industryData"

    def start(self) -> None:
        cmd = [str(self.binary), "serve", "--listen", f"{HOST}:{self.port}", "--data-dir", str(self.data_dir)]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        cmd += self.extra_args
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env)
        log.close()
        self._wait_healthy(cmd)

    def _wait_healthy(self, cmd: list[str]) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._abort(f"exited with status {self.process.returncode}", cmd)
            try:
                with urllib.request.urlopen(f"{self.root_url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self._abort(f"did not answer 200 on /healthz within {STARTUP_TIMEOUT_S:.0f}s", cmd)

    def _abort(self, reason: str, cmd: list[str]) -> None:
        self.stop()
        pytest.exit(f"rosterflow server {reason}\n$ {shlex.join(cmd)}\n--- server output ---\n{self.log_tail()}", 3)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output captured)"

    def token(self, tenant: str, *, scopes: Optional[list[str]] = None, roles: Optional[list[str]] = None) -> str:
        """A bearer JWT from `rosterflow token` (delegated `scopes` or application `roles`)."""
        assert (scopes is None) != (roles is None), "give exactly one of scopes/roles"
        kind, values = ("--scopes", scopes) if scopes is not None else ("--roles", roles)
        key = (tenant, kind, tuple(values))
        if key not in self._tokens:
            cmd = [str(self.binary), "token", "--data-dir", str(self.data_dir), "--tenant", tenant, kind, " ".join(values)]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            if done.returncode != 0 or not done.stdout.strip():
                pytest.fail(f"$ {shlex.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
            self._tokens[key] = done.stdout.strip().splitlines()[-1].strip()
        return self._tokens[key]

    def client(self, token: str) -> GraphServiceClient:
        """A GraphServiceClient that sends `Authorization: Bearer <token>` to this server."""
        if token not in self._clients:
            self._clients[token] = graph_client(self.base_url, token)
        return self._clients[token]


@pytest.fixture(scope="session")
def rosterflow(request: pytest.FixtureRequest):
    binary = find_binary()
    if not os.access(binary, os.X_OK):
        pytest.exit(f"ROSTERFLOW_BIN={binary} is not an executable file", 2)
    with tempfile.TemporaryDirectory(prefix="rosterflow-sdk-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        server = Rosterflow(binary=binary, data_dir=data_dir, port=free_port(), log_path=Path(tmp) / "server.log")
        server.start()
        try:
            yield server
        finally:
            server.stop()
            if request.session.testsfailed:
                request.config.stash[SERVER_LOG_TAIL] = server.log_tail()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """After failures, show the end of the server's output (the temp data dir is gone by then)."""
    tail = config.stash.get(SERVER_LOG_TAIL, None)
    if tail:
        terminalreporter.write_sep("-", "rosterflow server output (tail)")
        terminalreporter.write_line(tail)


@pytest.fixture(autouse=True)
def server_still_running(request: pytest.FixtureRequest):
    """Stop the run with the server's output if it died, instead of a cascade of connection errors."""
    yield
    if "rosterflow" in request.fixturenames:
        server = request.getfixturevalue("rosterflow")
        if server.process.poll() is not None:
            pytest.exit(f"rosterflow server died (status {server.process.returncode}) during "
                        f"{request.node.nodeid}\n--- server output ---\n{server.log_tail()}", 3)


@pytest.fixture(scope="session")
def graph(rosterflow: Rosterflow) -> Callable[[str], GraphServiceClient]:
    """Factory: token -> GraphServiceClient aimed at the test server."""
    return rosterflow.client


@pytest.fixture(scope="session")
def contoso_token(rosterflow: Rosterflow) -> str:
    return rosterflow.token("contoso", scopes=ALL_SCOPES)


@pytest.fixture(scope="session")
def contoso_read_token(rosterflow: Rosterflow) -> str:
    return rosterflow.token("contoso", scopes=READ_SCOPES)


@pytest.fixture(scope="session")
def fabrikam_token(rosterflow: Rosterflow) -> str:
    return rosterflow.token("fabrikam", scopes=ALL_SCOPES)


@pytest.fixture(scope="session")
def client(graph, contoso_token) -> GraphServiceClient:
    """Tenant contoso, every read and write permission."""
    return graph(contoso_token)


@pytest.fixture(scope="session")
def reader(graph, contoso_read_token) -> GraphServiceClient:
    """Tenant contoso, read-only permissions."""
    return graph(contoso_read_token)


@pytest.fixture(scope="session")
def other_tenant(graph, fabrikam_token) -> GraphServiceClient:
    """Tenant fabrikam, every permission: must not see contoso's resources."""
    return graph(fabrikam_token)
