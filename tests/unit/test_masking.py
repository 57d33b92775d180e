"""The masker: every form of a secret is masked wherever it lands in the text; short values and
ordinary text pass through untouched."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from ckrv.contracts.masking import MASK, MAX_FORMS_PER_SECRET, AhoCorasick, Masker, secret_forms
from ckrv.server.logs.matcher import (
    MAX_SUFFIX_DEPTH,
    LibraryMatcher,
    server_matcher,
    suffix_depth,
)

# Printable secrets, as tokens and API keys are; '*' is left out so a secret cannot be built
# from the mask itself (see `test_a_secret_made_of_mask_characters_is_still_masked`).
SECRET_CHARS = st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="*")
secrets_ = st.text(SECRET_CHARS, min_size=8, max_size=60)
noise = st.text(st.characters(min_codepoint=32, max_codepoint=0x7E), max_size=40)


def encodings(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "raw": secret,
        "quote": quote(secret, safe=""),
        "quote_plus": quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "basic_auth": base64.b64encode(b"x-access-token:" + raw).decode(),
        "base64_offset2": base64.b64encode(b"ab" + raw + b"cd").decode(),
    }


def leaked(secret: str, output: str) -> list[str]:
    """Forms of `secret` visible in `output`. For base64 forms, any run of the secret's own
    base64 characters longer than the two the masker may leave at an edge counts."""
    found = [
        name
        for name, form in encodings(secret).items()
        if name in ("raw", "quote", "quote_plus", "json") and len(form) >= 8 and form in output
    ]
    raw = secret.encode()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0").decode()
        core = encoded[-(-8 * offset // 6) : 8 * (offset + len(raw)) // 6]
        for variant in (core, core.replace("+", "-").replace("/", "_")):
            if variant[2:-2] and variant[2:-2] in output:
                found.append(f"base64@{offset}")
    return found


@settings(max_examples=300)
@given(secret=secrets_, before=noise, after=noise, form=st.sampled_from(sorted(encodings("x" * 8))))
def test_every_form_of_a_secret_is_masked(secret: str, before: str, after: str, form: str) -> None:
    text = before + encodings(secret)[form] + after
    output = Masker([secret]).mask(text)
    assert not leaked(secret, output), (text, output)
    assert MASK in output


@given(text=st.text(max_size=200))
def test_text_without_secrets_passes_through_unchanged(text: str) -> None:
    secret = "S3cr3t-" + "Q" * 10  # no character of it is in the text below
    text = text.replace("S", "s").replace("Q", "q")
    assert Masker([secret]).mask(text) == text


LINE_CHARS = st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="*\x85")


@given(lines=st.lists(st.text(LINE_CHARS, min_size=8, max_size=70), min_size=2, max_size=6))
def test_each_line_of_a_multiline_key_is_masked_on_its_own(lines: list[str]) -> None:
    key = "\n".join(lines) + "\n"
    masker = Masker([key])
    for line in lines:
        assert line not in masker.mask(f"debug: {line} seen")


@given(secret=st.text(SECRET_CHARS, min_size=1, max_size=7))
def test_values_shorter_than_eight_characters_are_not_masked(secret: str) -> None:
    assert Masker([secret]).mask(f"value={secret}") == f"value={secret}"


def test_overlapping_secrets_are_masked_entirely() -> None:
    masker = Masker(["AAAABBBBCCCC", "CCCCDDDDEEEE"])
    assert masker.mask("xAAAABBBBCCCCDDDDEEEEx") == f"x{MASK}x"


def test_a_secret_made_of_mask_characters_is_still_masked() -> None:
    # Replacing one occurrence can join its neighbours into a new one: masking repeats.
    secret = "aaaa***b"
    assert secret not in Masker([secret]).mask("aaaa" + secret + "b")


@settings(max_examples=200)
@given(
    token=secrets_,
    key_lines=st.lists(st.text(LINE_CHARS, min_size=8, max_size=40), min_size=2, max_size=4),
    filler=noise,
)
def test_a_key_and_a_token_in_one_text(token: str, key_lines: list[str], filler: str) -> None:
    key = "-----BEGIN KEY-----\n" + "\n".join(key_lines) + "\n-----END KEY-----\n"
    text = f"{filler}{key}{filler}{token}{filler}{key_lines[-1]}{json.dumps(key)}{filler}"
    output = Masker([token, key]).mask(text)
    assert token not in output
    for line in key_lines:
        assert line.strip() not in output or len(line.strip()) < 8


@given(
    forms=st.lists(st.text("abc", min_size=1, max_size=6), min_size=1, max_size=10),
    text=st.text("abc", max_size=80),
)
def test_the_automaton_finds_the_longest_form_ending_at_each_position(
    forms: list[str], text: str
) -> None:
    expected = []
    for end in range(1, len(text) + 1):
        lengths = [len(form) for form in forms if text[:end].endswith(form)]
        if lengths:
            expected.append((end, max(lengths)))
    assert list(AhoCorasick(forms).ends(text)) == expected


def test_a_secret_adds_a_bounded_number_of_forms() -> None:
    key = "\n".join(f"line {i:04d} of a long multi-line secret value" for i in range(2000))
    forms = secret_forms(key)
    assert len(forms) <= MAX_FORMS_PER_SECRET
    assert "line 0000 of a long multi-line secret value" in forms
    assert "line 1999 of a long multi-line secret value" not in forms  # past MAX_LINES_PER_SECRET
    assert Masker([key]).mask(f"x{key}x") == f"x{MASK}x"  # the whole value is still masked


def test_text_that_keeps_rejoining_a_secret_is_masked_whole() -> None:
    secret = "ab***cd***"  # each mask joins its neighbours into a new occurrence
    text = "ab" * 6 + secret + "cd***" * 6
    assert Masker([secret]).mask(text) in (MASK, text.replace(secret, MASK))
    assert secret not in Masker([secret]).mask(text)


@settings(max_examples=300)
@given(
    forms=st.lists(st.text("ab\u00e9\U0001f600", min_size=1, max_size=6), min_size=1, max_size=10),
    text=st.text("ab\u00e9\U0001f600x", max_size=80),
)
def test_the_servers_matcher_agrees_with_the_workers(forms: list[str], text: str) -> None:
    """The library's positions are characters, not bytes, and its overlapping matches reduce
    to the longest form per position, as the standard library's automaton finds them."""
    assert list(LibraryMatcher(forms).ends(text)) == list(AhoCorasick(forms).ends(text))


def test_a_contrived_set_of_nested_secrets_keeps_the_linear_matcher() -> None:
    nested = ["a" * n for n in range(8, 40)]  # every one ends every longer one
    assert suffix_depth(Masker(nested).forms) > MAX_SUFFIX_DEPTH
    assert isinstance(server_matcher(Masker(nested).forms), AhoCorasick)
    tokens = Masker([f"ghp_{i}abcdefghijklmnopqrstuvwxyz0123" for i in range(50)])
    assert isinstance(server_matcher(tokens.forms), LibraryMatcher)
    assert Masker(nested, server_matcher).mask("x" + "a" * 5000 + "x") == f"x{MASK}x"
