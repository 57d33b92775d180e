"""Host patterns, the proxy's decision and how a job's policy is settled from its layers."""

from __future__ import annotations

import pytest

from ckrv.contracts.network import (
    HostPattern,
    Layer,
    NetworkPolicy,
    PolicyError,
    host_patterns,
    settle,
)
from ckrv.worker.egress.policy import Allowlist


@pytest.mark.parametrize(
    ("pattern", "host", "port", "allowed"),
    [
        ("api.example.com", "api.example.com", 443, True),
        ("api.example.com", "API.Example.com.", 80, True),
        ("api.example.com", "api.example.com", 8443, False),
        ("api.example.com", "evil.api.example.com", 443, False),
        ("api.example.com", "api.example.com.evil.net", 443, False),
        ("*.example.com", "a.example.com", 443, True),
        ("*.example.com", "a.b.example.com", 443, True),
        ("*.example.com", "example.com", 443, False),
        ("*.example.com", "badexample.com", 443, False),
        ("example.com:8443", "example.com", 8443, True),
        ("example.com:8443", "example.com", 443, False),
        ("127.0.0.1:8080", "127.0.0.1", 8080, True),
        ("127.0.0.1", "127.0.0.1", 8080, False),
        ("localhost", "127.0.0.1", 443, False),
        ("127.0.0.1", "localhost", 443, False),
        ("[::1]:8080", "::1", 8080, True),
        ("::1", "[0:0::1]", 443, True),
    ],
)
def test_pattern_matching(pattern: str, host: str, port: int, allowed: bool) -> None:
    assert HostPattern.parse(pattern).matches(host, port) is allowed


@pytest.mark.parametrize(
    "bad", ["", " a.com", "a..com", "*.", "http://a.com", "a.com:0", "a.com:x"]
)
def test_bad_patterns_are_refused_saying_which(bad: str) -> None:
    with pytest.raises(PolicyError, match="allowed_hosts"):
        host_patterns([bad], "allowed_hosts")


def test_covers() -> None:
    wide = HostPattern.parse("*.example.com")
    assert wide.covers(HostPattern.parse("a.example.com"))
    assert wide.covers(HostPattern.parse("*.a.example.com"))
    assert not wide.covers(HostPattern.parse("example.com"))
    assert not wide.covers(HostPattern.parse("a.example.com:8443"))
    assert not HostPattern.parse("a.example.com").covers(wide)


def test_denials_name_host_port_and_setting() -> None:
    allow = Allowlist(NetworkPolicy("allowlist", ("api.example.com",), "[agents.codex] network"))
    assert allow.check("api.example.com", 443).allowed
    denied = allow.check("other.example.com", 443)
    assert denied.log_line("other.example.com", 443) == (
        "network: denied other.example.com:443 (not in the allowlist; add 'other.example.com' to "
        "`allowed_hosts` in [agents.codex] or the job's options (--allow-host), "
        'or set network = "open")'
    )
    port = allow.check("api.example.com", 22).log_line("api.example.com", 22)
    assert "port 22 is not allowed" in port and "api.example.com:22" in port
    assert "an IP address" in allow.check("203.0.113.9", 443).reason


def test_a_listed_name_resolving_to_loopback_is_refused() -> None:
    allow = Allowlist(NetworkPolicy("allowlist", ("internal.example", "127.0.0.1:9")))
    assert not allow.check_address("internal.example", 443, "127.0.0.1").allowed
    assert not allow.check_address("internal.example", 443, "169.254.169.254").allowed
    assert allow.check_address("internal.example", 443, "10.1.2.3").allowed
    assert allow.check_address("127.0.0.1", 9, "127.0.0.1").allowed


SERVER = Layer("open", ("pypi.org",), "[server] network")
AGENT = Layer(None, ("api.anthropic.com",), "[agents.claude-code] network")


def test_most_specific_operator_layer_sets_the_mode_and_hosts_add_up() -> None:
    repo = Layer("allowlist", ("*.corp.example",), '[repositories."https://git.corp/*"] network')
    policy = settle([SERVER, AGENT, repo], None, jobs_may_widen=False)
    assert policy == NetworkPolicy(
        "allowlist", ("pypi.org", "api.anthropic.com", "*.corp.example"), repo.source
    )
    assert settle([SERVER, AGENT], None, False) == NetworkPolicy("open", (), "[server] network")


def test_a_job_may_narrow() -> None:
    job = Layer("allowlist", ("files.example",), "the job's network option")
    policy = settle([SERVER, AGENT], job, jobs_may_widen=False)
    assert policy.mode == "allowlist"
    assert policy.allowed_hosts == ("pypi.org", "api.anthropic.com", "files.example")
    assert settle([SERVER], Layer("none", (), "job"), False).mode == "none"


def test_a_job_may_not_widen_past_the_operator_unless_permitted() -> None:
    none = Layer("none", (), "[server] network")
    with pytest.raises(PolicyError, match="jobs_may_widen_network"):
        settle([none], Layer("open", (), "job"), jobs_may_widen=False)
    assert settle([none], Layer("open", (), "job"), jobs_may_widen=True).mode == "open"
    listed = Layer("allowlist", ("*.example.com",), "[server] network")
    with pytest.raises(PolicyError, match=r"'other\.net'"):
        settle([listed], Layer(None, ("other.net",), "job"), jobs_may_widen=False)
    inside = settle([listed], Layer(None, ("a.example.com",), "job"), jobs_may_widen=False)
    assert inside.allowed_hosts == ("*.example.com", "a.example.com")


def test_policy_round_trips_through_the_job_description() -> None:
    policy = NetworkPolicy("allowlist", ("a.example",), "[server] network")
    assert NetworkPolicy.from_dict(policy.as_dict()) == policy
    assert NetworkPolicy.from_dict(None).mode == "open"
