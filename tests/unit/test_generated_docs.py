"""Generated docs stay true: the README's config reference and docs/api.md are regenerated and
compared (so a new setting or route without regenerated docs fails here), and the served /docs
page is the same reference, readable, self-contained and escaped."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ckrv.server.apidocs.generated_docs import (
    CONFIG_BEGIN,
    CONFIG_END,
    SCHEMA_SQL,
    api_markdown,
    config_markdown,
    stale,
    with_config_reference,
)
from ckrv.server.apidocs.openapi import document
from ckrv.server.apidocs.reference import describe
from ckrv.server.routes.docs import code_spans
from ckrv.settings import SETTINGS_TABLE
from tests.support.helpers import PYTHON, ROOT, app_client

README = ROOT / "README.md"
API_MD = ROOT / "docs" / "api.md"


def test_readme_config_reference_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert with_config_reference(text) == text, (
        "README's config reference is stale: run scripts/gen-docs"
    )


def test_config_reference_lists_every_setting_with_its_section() -> None:
    text = README.read_text(encoding="utf-8")
    reference = text[text.index(CONFIG_BEGIN) : text.index(CONFIG_END)]
    for section, key, *_ in SETTINGS_TABLE:
        table = reference[reference.index(f"#### `[{section}]`") :]
        assert f"| `{key}` |" in table.split("\n#### ")[0], f"[{section}] {key} is not documented"


def test_api_md_is_current() -> None:
    assert API_MD.read_text(encoding="utf-8") == api_markdown(), (
        "docs/api.md is stale: run scripts/gen-docs"
    )


def test_api_md_documents_every_operation_and_schema() -> None:
    text = API_MD.read_text(encoding="utf-8")
    doc = document("http://127.0.0.1:8420/v1")
    for path, item in doc["paths"].items():
        for method in item:
            assert f"### `{method.upper()} {path}`" in text
    for name in doc["components"]["schemas"]:
        assert f"### {name}\n" in text


def test_gen_docs_check_passes_on_the_repository() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "gen-docs"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHON": PYTHON},
    )
    assert result.returncode == 0, result.stderr


def _copy_docs(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    shutil.copy(README, tmp_path / "README.md")
    shutil.copy(API_MD, tmp_path / "docs" / "api.md")
    (tmp_path / SCHEMA_SQL).parent.mkdir(parents=True)
    shutil.copy(ROOT / SCHEMA_SQL, tmp_path / SCHEMA_SQL)
    return tmp_path


def test_drift_is_detected_in_either_file(tmp_path: Path) -> None:
    root = _copy_docs(tmp_path)
    assert stale(root) == []
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("| `port` |", "| `prot` |"))
    api = root / "docs" / "api.md"
    api.write_text(api.read_text().replace("### `POST /jobs`", "### `POST /job`"))
    assert stale(root) == [readme, api]


def test_readme_without_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="markers"):
        with_config_reference("# no markers here\n")


def test_config_reference_shows_units_and_computed_defaults() -> None:
    text = config_markdown()
    assert "| `job_timeout` | duration | `1h` |" in text
    assert "| `artifact_retention` | duration | `7d` |" in text
    assert "| `max_concurrent_jobs` | integer | the CPU count |" in text  # not this machine's count
    assert "(50 MiB)" in text


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("src", "href", "action") and value:
                self.urls.append(value)
            if name == "href" and value and value.startswith("#"):
                self.hrefs.append(value[1:])


def test_docs_page_is_the_same_reference_and_self_contained(tmp_path: Path) -> None:
    with app_client(tmp_path / "data") as client:
        response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = _Page()
    page.feed(response.text)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    own = "http://127.0.0.1:8420/v1/openapi.json"
    assert [u for u in page.urls if not u.startswith("#")] == [own]  # nothing fetched elsewhere
    assert set(page.hrefs) <= page.ids, "a link on /docs points to no section"
    doc = describe(document("http://127.0.0.1:8420/v1"))
    for _tag, ops in doc.groups:
        for op in ops:
            assert op.anchor in page.ids
            assert f"{op.summary}." in response.text.replace("&#39;", "'")
    for schema in doc.schemas:
        assert schema.anchor in page.ids


def test_docs_page_escapes_text_and_marks_code() -> None:
    assert str(code_spans("a <b> & `c<d>`")) == "a &lt;b&gt; &amp; <code>c&lt;d&gt;</code>"


def test_docs_page_uses_the_servers_own_url(tmp_path: Path) -> None:
    with app_client(tmp_path / "data", public_url="https://ckrv.example.com") as client:
        text = client.get("/docs").text
    assert re.search(r"<code>https://ckrv\.example\.com/v1</code>", text)
    assert "127.0.0.1" not in text
