"""SECURITY 25: the two-user matrix, against a real `ckrv serve`. User B gets exactly what a
missing resource gets (404) on every route that names one of user A's jobs, logs (JSON and SSE),
diffs, credentials and secrets, and sees and touches nothing of A's through the other routes.
Every authenticated route answers 401 to no token, expired tokens and forged ones; worker routes
take only the token of the worker holding that very job.

The route list comes from the app itself: a route that is neither covered here nor listed as
public fails test_every_route_is_classified, so a new route cannot be forgotten."""

from __future__ import annotations

import base64
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.routing import BaseRoute, Mount, Route

from ckrv.server.admin import create_token
from ckrv.server.identity.signing_key import SigningKey, load_signing_key
from ckrv.server.identity.tokens import TokenIssuer
from ckrv.server.pages import routes as pages
from tests.support.helpers import Server, add_user_direct, make_repo, wait_for
from tests.support.jobhelpers import processes_with, submit, wait_phase, wait_status
from tests.support.servers import write_config

# --- the classification of every route ---

PUBLIC = {  # no token, by design
    ("GET", "/healthz"),
    ("GET", "/docs"),
    ("GET", "/activate"),
    ("POST", "/activate"),
    ("POST", "/activate/decide"),
    ("GET", "/v1/openapi.json"),
    ("POST", "/v1/auth/device"),
    ("POST", "/v1/auth/token"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/revoke"),  # RFC 7009: the refresh token in the body is the credential
}


@dataclass(frozen=True)
class Probe:
    """One request: `fill` says which of A's resources fill the path's parameters."""

    fill: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


_JOB = {"job_id": "finished"}
_SSE = {"Accept": "text/event-stream"}

# Routes naming one of A's resources: B must get what a missing resource gets.
OWNED: dict[tuple[str, str], list[Probe]] = {
    ("GET", "/v1/jobs/{job_id}"): [Probe(_JOB)],
    ("POST", "/v1/jobs/{job_id}/cancel"): [Probe({"job_id": "running"})],
    ("GET", "/v1/jobs/{job_id}/artifacts/diff"): [Probe(_JOB)],
    ("GET", "/v1/jobs/{job_id}/artifacts/verify/{run}"): [
        Probe({"job_id": "finished", "run": "run"})
    ],
    ("GET", "/v1/jobs/{job_id}/artifacts/delta"): [Probe(_JOB)],
    ("POST", "/v1/jobs/{job_id}/continue"): [Probe(_JOB, body={"spec_content": "more\n"})],
    ("GET", "/v1/jobs/{job_id}/logs"): [
        Probe(_JOB),
        Probe(_JOB, params={"tail": "5", "limit": "2"}),
        Probe(_JOB, params={"follow": "true"}),
        Probe(_JOB, headers=_SSE),
        Probe({"job_id": "running"}, params={"follow": "true"}, headers={"Last-Event-ID": "1"}),
    ],
    ("GET", "/v1/groups/{group_id}"): [Probe({"group_id": "group"})],
    ("POST", "/v1/groups/{group_id}/cancel"): [Probe({"group_id": "group"})],
    # the alias the Chakravarti CLI asks for (routes/logs.py)
    ("GET", "/v1/v1/jobs/{job_id}/logs"): [Probe(_JOB), Probe(_JOB, headers=_SSE)],
    ("DELETE", "/v1/credentials/{name}"): [Probe({"name": "credential"})],
    ("DELETE", "/v1/secrets/{name}"): [Probe({"name": "secret"})],
}

# What stands for A's resources in a request for ones that do not exist.
MISSING = {
    "finished": str(uuid.uuid4()),
    "running": str(uuid.uuid4()),
    "group": "g-22222222",
    "run": "0",
    "credential": "no-such-credential",
    "secret": "NO_SUCH_SECRET",
}

# Worker routes: a job-scoped worker token, nothing else.
WORKER_ONLY: dict[tuple[str, str], Probe] = {
    ("GET", "/v1/worker/jobs/{job_id}"): Probe({"job_id": "running"}),
    ("POST", "/v1/worker/jobs/{job_id}/events"): Probe(
        {"job_id": "running"}, body={"phase": "verifying"}
    ),
    ("POST", "/v1/worker/jobs/{job_id}/logs"): Probe({"job_id": "running"}, body={"entries": []}),
    ("PUT", "/v1/worker/jobs/{job_id}/diff"): Probe({"job_id": "running"}, body="diff --git a b\n"),
    ("PUT", "/v1/worker/jobs/{job_id}/delta"): Probe({"job_id": "running"}, body="diff\n"),
    ("PUT", "/v1/worker/jobs/{job_id}/bundle"): Probe({"job_id": "running"}, body="bundle\n"),
    ("GET", "/v1/worker/jobs/{job_id}/parent/bundle"): Probe({"job_id": "running"}),
    ("PUT", "/v1/worker/jobs/{job_id}/verify/{run}"): Probe(
        {"job_id": "running", "run": "run"}, body={"text": "verify output"}
    ),
    ("POST", "/v1/worker/jobs/{job_id}/result"): Probe(
        {"job_id": "running"}, body={"status": "failed"}
    ),
}


def label(route: tuple[str, str], probe: Probe) -> str:
    extras = [f"{k}={v}" for k, v in probe.params.items()]
    extras += [f"{k}: {v}" for k, v in probe.headers.items()]
    return " ".join([*route, *extras])


# --- the server, A's resources, and tokens good and bad ---


@dataclass
class World:
    server: Server
    repo: Path
    tokens: dict[str, str]  # "a", "b": API tokens; "a-jwt", "b-jwt": access tokens
    resources: dict[str, str]  # finished, running (job ids), credential, secret (names)
    issuer: TokenIssuer
    attempts: dict[str, str]  # job id -> its current dispatch attempt

    def call(
        self,
        route: tuple[str, str],
        probe: Probe,
        token: str | None,
        resources: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The probe's request with `token`; a stream's body is left unread (it may not end)."""
        method, template = route
        names = resources or self.resources
        # a value that names no resource (a verify run's number) is taken as it is
        path = template.format(**{k: names.get(v, v) for k, v in probe.fill.items()})
        headers = {**probe.headers, **({"Authorization": f"Bearer {token}"} if token else {})}
        text = isinstance(probe.body, str)
        with (
            httpx.Client(base_url=self.server.url, timeout=30) as client,
            client.stream(
                method,
                path,
                params=probe.params,
                headers=headers,
                content=probe.body if text else None,
                json=None if text else probe.body,
            ) as response,
        ):
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                response.read()
        return response

    def api(self, user: str) -> httpx.Client:
        return self.server.client(self.tokens[user])

    def worker_token(self, job_id: str) -> str:
        return self.issuer.worker_token(job_id, 600, self.attempts[job_id])


def _current_attempts(data_dir: Path) -> dict[str, str]:
    conn = sqlite3.connect(data_dir / "ckrv.db", timeout=30)
    try:
        return {
            r[0]: r[1]
            for r in conn.execute("SELECT id, attempt FROM jobs WHERE attempt IS NOT NULL")
        }
    finally:
        conn.close()


def _a_owns_things(world: World) -> None:
    with world.api("a") as api:
        greet = "# Greet\nwrite hello.txt Hello\\n\nprint done\n"
        finished = submit(api, greet, world.repo, verify=["true"])["id"]  # a transcript too
        running = submit(api, "print started\nsleep 120\n", world.repo)["id"]
        group = api.post(
            "/groups",
            json={"spec_content": "sleep 120\n", "git_repo_url": world.repo.as_uri()},
        ).json()["id"]
        assert wait_status(api, finished)["status"] == "succeeded"
        wait_phase(api, running, "executing")
        credential = {
            "name": "a-work",
            "provider": "github",
            "credential_type": "pat",
            "value": "ghp_userA0123456789abcdef",
        }
        assert api.post("/credentials", json=credential).status_code == 201
        assert (
            api.put("/secrets/A_API_KEY", json={"value": "a-secret-value-123"}).status_code == 201
        )
    world.resources.update(
        finished=finished,
        running=running,
        group=group,
        run="0",
        credential="a-work",
        secret="A_API_KEY",
    )
    world.attempts.update(_current_attempts(world.server.data_dir))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("matrix")
    (root / "config").mkdir()
    srv = Server(
        data_dir=root / "data", config_dir=root / "config", config=write_config(root)
    ).start()
    try:
        issuer = TokenIssuer(load_signing_key(srv.data_dir), srv.url, 900)
        tokens = {}
        for user, tier in (("a", "pro"), ("b", "free")):
            user_id = add_user_direct(srv.data_dir, f"{user}@example.com", tier)
            tokens[user] = create_token(srv.data_dir, f"{user}@example.com", None)[1]
            tokens[f"{user}-jwt"] = issuer.access_token(user_id)
        world = World(srv, make_repo(root / "repo"), tokens, {}, issuer, {})
        _a_owns_things(world)
        yield world
        with world.api("a") as api:  # the sleeping job goes now, not at its timeout
            api.post(f"/jobs/{world.resources['running']}/cancel")
            grouped = api.post(f"/groups/{world.resources['group']}/cancel").json()
        wait_for(
            lambda: (
                not processes_with(world.resources["running"])
                and not processes_with(grouped["attempts"][0]["job_id"])
            ),
            timeout=15,
            what="the running job's processes to end",
        )
    finally:
        srv.shutdown()


def bad_tokens(world: World) -> dict[str, str | None]:
    """Bearer tokens no user route may honour (by kind), each a near miss of a good one."""
    expired_issuer = TokenIssuer(world.issuer.key, world.issuer.issuer, -60)  # exp a minute ago
    other_key = Ed25519PrivateKey.generate()
    forged_issuer = TokenIssuer(  # the server's kid, so only the signature gives it away
        SigningKey(other_key, other_key.public_key(), world.issuer.key.kid),
        world.issuer.issuer,
        900,
    )
    user_a = jwt.decode(world.tokens["a-jwt"], options={"verify_signature": False})["sub"]
    expired_api = create_token(world.server.data_dir, "a@example.com", -60)[1]
    return {
        "no token": None,
        "expired access token": expired_issuer.access_token(user_a),
        "expired API token": expired_api,
        "forged access token": forged_issuer.access_token(user_a),
        "unsigned access token": _unsigned(world.tokens["a-jwt"]),
        "made-up API token": "ckrv_pat_" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode(),
        "worker token": world.worker_token(world.resources["running"]),
    }


def _unsigned(token: str) -> str:
    """The same claims with `alg: none` and no signature (RFC 8725)."""
    header, payload, _ = token.split(".")
    head = json.loads(base64.urlsafe_b64decode(header + "=="))
    none = base64.urlsafe_b64encode(json.dumps({**head, "alg": "none"}).encode()).rstrip(b"=")
    return f"{none.decode()}.{payload}."


def assert_unauthorized(response: httpx.Response, what: str) -> None:
    assert response.status_code == 401, f"{what}: {response.status_code} {response.text[:200]}"
    assert response.headers["content-type"].startswith("application/json"), what
    assert response.json()["error"] in ("unauthorized", "invalid_token"), what
    assert response.headers["www-authenticate"].startswith("Bearer"), what


# --- routes that do not name a resource: B's view holds nothing of A's ---


def _b_lists_none_of_as_jobs(world: World) -> None:
    with world.api("b") as api:
        ids = {j["id"] for j in api.get("/jobs", params={"limit": 100}).json()["jobs"]}
        assert not ids & {world.resources["finished"], world.resources["running"]}
        for params in ({"id_prefix": world.resources["finished"][:8]}, {"status": "running"}):
            assert api.get("/jobs", params=params).json()["jobs"] == []


def _b_cannot_use_as_credential(world: World) -> None:
    """Naming A's credential in a job is answered as naming one nobody has."""
    answers = []
    for name in (world.resources["credential"], MISSING["credential"]):
        body = {
            "spec_content": "print hi\n",
            "git_repo_url": world.repo.as_uri(),
            "git_credential_name": name,
        }
        with world.api("b") as api:
            answers.append(api.post("/jobs", json=body))
    assert answers[0].status_code == answers[1].status_code == 422, answers[0].text
    assert answers[0].json()["error"] == "credential_not_found"
    assert (
        answers[0].text.replace(world.resources["credential"], MISSING["credential"])
        == answers[1].text
    )


def _b_cannot_use_as_credential_in_a_group(world: World) -> None:
    """As for one job: B naming A's credential in a group learns nothing, creates nothing."""
    body = {
        "spec_content": "print hi\n",
        "git_repo_url": world.repo.as_uri(),
        "git_credential_name": world.resources["credential"],
        "attempts": 2,
    }
    with world.api("b") as api:
        before = api.get("/users/me").json()["jobs_used"]
        answer = api.post("/groups", json=body)
        assert answer.status_code == 422 and answer.json()["error"] == "credential_not_found"
        assert api.get("/users/me").json()["jobs_used"] == before
        assert api.get("/jobs").json()["jobs"] == []


def _b_lists_none_of_as_credentials(world: World) -> None:
    with world.api("b") as api:
        assert api.get("/credentials").json() == {"credentials": []}


def _b_adds_a_credential_of_the_same_name(world: World) -> None:
    name = world.resources["credential"]
    with world.api("a") as a:
        before = a.get("/credentials").json()
    with world.api("b") as b:
        created = b.post(
            "/credentials",
            json={
                "name": name,
                "provider": "gitlab",
                "credential_type": "pat",
                "value": "glpat-b0123456789",
            },
        )
        assert created.status_code == 201, "B learnt that A has a credential of that name"
        assert b.delete(f"/credentials/{name}").status_code == 204  # B's own
    with world.api("a") as a:
        assert a.get("/credentials").json() == before


def _b_lists_none_of_as_secrets(world: World) -> None:
    with world.api("b") as api:
        assert api.get("/secrets").json() == {"secrets": []}


def _b_sets_a_secret_of_the_same_name(world: World) -> None:
    name = world.resources["secret"]
    with world.api("a") as a:
        before = a.get("/secrets").json()
    with world.api("b") as b:
        put = b.put(f"/secrets/{name}", json={"value": "b-secret-value-456"})
        assert put.status_code == 201, "B replaced A's secret, or learnt it exists"
        assert b.delete(f"/secrets/{name}").status_code == 204
    with world.api("a") as a:
        assert a.get("/secrets").json() == before  # same updated_at: untouched


def _b_is_b(world: World) -> None:
    for token in ("b", "b-jwt"):
        with world.api(token) as api:
            assert api.get("/users/me").json()["email"] == "b@example.com"


# Routes that name no resource of A's: the request used for the 401 checks, and B's check.
SCOPED: dict[tuple[str, str], tuple[Probe, Callable[[World], None]]] = {
    ("GET", "/v1/jobs"): (Probe(), _b_lists_none_of_as_jobs),
    ("POST", "/v1/jobs"): (
        Probe(body={"spec_content": "print hi\n", "git_repo_url": "https://example.com/r.git"}),
        _b_cannot_use_as_credential,
    ),
    ("POST", "/v1/groups"): (
        Probe(body={"spec_content": "print hi\n", "git_repo_url": "https://example.com/r.git"}),
        _b_cannot_use_as_credential_in_a_group,
    ),
    ("GET", "/v1/credentials"): (Probe(), _b_lists_none_of_as_credentials),
    ("POST", "/v1/credentials"): (
        Probe(
            body={
                "name": "x",
                "provider": "github",
                "credential_type": "pat",
                "value": "ghp_x0123456789",
            }
        ),
        _b_adds_a_credential_of_the_same_name,
    ),
    ("GET", "/v1/secrets"): (Probe(), _b_lists_none_of_as_secrets),
    ("PUT", "/v1/secrets/{name}"): (
        Probe({"name": "secret"}, body={"value": "v-0123456789"}),
        _b_sets_a_secret_of_the_same_name,
    ),
    ("GET", "/v1/users/me"): (Probe(), _b_is_b),
}

USER_ROUTES: dict[tuple[str, str], list[Probe]] = {
    **OWNED,
    **{route: [probe] for route, (probe, _check) in SCOPED.items()},
}


# --- the classification is complete ---


def http_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, full path) of every HTTP route, through Mounts and route groups."""
    for route in routes:
        if isinstance(route, Mount):
            yield from http_routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            for method in (route.methods or {"GET"}) - {"HEAD", "OPTIONS"}:
                yield method, prefix + route.path
        elif isinstance(getattr(route, "routes", None), list):  # a group of full-path routes
            yield from http_routes(route.routes, prefix)  # type: ignore[attr-defined]


def app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    from ckrv.server.app import create_app
    from ckrv.settings import Settings

    routes = set(http_routes(list(create_app(Settings(data_dir=tmp_path / "data")).routes)))
    assert ("GET", "/v1/jobs/{job_id}/logs") in routes  # the walk reached the API
    return routes


# The dashboard's pages (ckrv/server/pages/routes.py): a browser's session cookie, not a bearer
# token; another user's job there is a 404 too, held by tests/e2e/test_dashboard_browser.py.
PAGES = set(http_routes(list(pages.routes)))

CLASSES = [PUBLIC, set(USER_ROUTES), set(WORKER_ONLY), PAGES]


def test_every_route_is_classified(tmp_path: Path) -> None:
    routes = app_routes(tmp_path)
    unclassified = routes - set().union(*CLASSES)
    assert not unclassified, (
        f"routes neither tested here nor listed as public: {sorted(unclassified)}"
    )
    assert not set().union(*CLASSES) - routes, "listed routes the app does not have"
    assert sum(len(c) for c in CLASSES) == len(routes), "a route is in two classes"


def test_the_walk_reports_a_new_route(tmp_path: Path) -> None:
    """The check itself works: a route added anywhere, even mounted, is reported."""

    async def endpoint(request: Any) -> Any:
        raise AssertionError("never called")

    extra = Mount("/v1/extra", routes=[Route("/{item_id:int}", endpoint, methods=["DELETE"])])
    routes = app_routes(tmp_path) | set(http_routes([extra]))
    assert routes - set().union(*CLASSES) == {("DELETE", "/v1/extra/{item_id:int}")}


# --- the matrix ---


def test_the_tokens_used_are_good_ones(world: World) -> None:
    """Controls: A's own tokens (API and access) reach every route B is refused on, and a
    worker's token its own job, so the refusals below are about who asks."""
    for token in ("a", "a-jwt"):
        for route, probes in OWNED.items():
            if route[0] == "GET":
                for probe in probes:
                    response = world.call(route, probe, world.tokens[token])
                    assert response.status_code == 200, (route, probe, response.text[:200])
    job = world.resources["running"]
    route = ("GET", "/v1/worker/jobs/{job_id}")
    assert world.call(route, WORKER_ONLY[route], world.worker_token(job)).json()["id"] == job


@pytest.mark.parametrize("token", ["b", "b-jwt"])
@pytest.mark.parametrize(
    ("route", "probe"),
    [pytest.param(r, p, id=label(r, p)) for r, ps in OWNED.items() for p in ps],
)
def test_b_gets_404_for_as_resources(
    world: World, route: tuple[str, str], probe: Probe, token: str
) -> None:
    """The very answer a missing resource gets (its name aside): nothing tells B it exists."""
    response = world.call(route, probe, world.tokens[token])
    missing = world.call(route, probe, world.tokens[token], MISSING)
    assert response.status_code == missing.status_code == 404, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    found, absent = response.json(), missing.json()
    assert found["error"] == absent["error"] == "not_found"
    for name in probe.fill.values():
        if name in world.resources:  # (a verify run's number is no resource)
            found["message"] = found["message"].replace(world.resources[name], MISSING[name])
    assert found == absent


def test_as_resources_survive_bs_attempts(world: World) -> None:
    for route, probes in OWNED.items():
        for probe in probes:
            world.call(route, probe, world.tokens["b"])
    with world.api("a") as a:
        assert a.get(f"/jobs/{world.resources['running']}").json()["status"] == "running"
        group = a.get(f"/groups/{world.resources['group']}").json()
        assert group["attempts"][0]["status"] in ("pending", "running")
        assert "+Hello" in a.get(f"/jobs/{world.resources['finished']}/artifacts/diff").text
        assert [c["name"] for c in a.get("/credentials").json()["credentials"]] == ["a-work"]
        assert [s["name"] for s in a.get("/secrets").json()["secrets"]] == ["A_API_KEY"]


@pytest.mark.parametrize("route", list(SCOPED), ids=" ".join)
def test_b_sees_and_touches_nothing_of_as(world: World, route: tuple[str, str]) -> None:
    SCOPED[route][1](world)


@pytest.mark.parametrize("route", list(USER_ROUTES), ids=" ".join)
def test_user_routes_refuse_missing_expired_and_forged_tokens(
    world: World, route: tuple[str, str]
) -> None:
    for kind, token in bad_tokens(world).items():
        for probe in USER_ROUTES[route]:
            assert_unauthorized(world.call(route, probe, token), f"{kind} on {' '.join(route)}")


@pytest.mark.parametrize("route", list(WORKER_ONLY), ids=" ".join)
def test_worker_routes_take_only_that_jobs_worker_token(
    world: World, route: tuple[str, str]
) -> None:
    probe, job = WORKER_ONLY[route], world.resources["running"]
    refused = {kind: t for kind, t in bad_tokens(world).items() if kind != "worker token"}
    refused |= {
        "the owner's API token": world.tokens["a"],
        "the owner's access token": world.tokens["a-jwt"],
        "expired worker token": world.issuer.worker_token(job, -60, world.attempts[job]),
    }
    for kind, token in refused.items():
        assert_unauthorized(world.call(route, probe, token), f"{kind} on {' '.join(route)}")
    another_jobs = world.call(route, probe, world.worker_token(world.resources["finished"]))
    assert another_jobs.status_code == 404 and another_jobs.json()["error"] == "not_found"
    superseded = world.call(route, probe, world.issuer.worker_token(job, 600, "an-old-attempt"))
    assert superseded.status_code == 409 and superseded.json()["error"] == "superseded"
