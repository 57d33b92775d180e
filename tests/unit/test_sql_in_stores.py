"""Every SQL statement on a table lives in that table's store module, so a reader looks for a
table's queries in one place and a schema change touches one module. A statement is on the
table its outermost FROM, INTO or UPDATE names (subqueries and joins may read other tables)."""

from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path

from tests.support.helpers import ROOT

SERVER = ROOT / "ckrv" / "server"
STORES = {
    "users": "identity/users.py",
    "api_tokens": "identity/tokens.py",
    "refresh_tokens": "identity/tokens.py",
    "device_codes": "identity/device_flow.py",
    "web_sessions": "identity/sessions.py",
    "jobs": "jobs/store/",
    "server_keys": "jobs/store/",
    "job_logs": "logs/store.py",
    "credentials": "vault/store.py",
    "secrets": "vault/store.py",
}
_SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|INDEXED BY)\b")
_TABLE_AFTER = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)")
_TABLE_BEFORE = re.compile(r"\"?(\w+)\"?\s+INDEXED BY\b")
_PARENS = re.compile(r"\([^()]*\)")


def schema_tables() -> set[str]:
    conn = sqlite3.connect(":memory:")
    conn.executescript((SERVER / "storage" / "schema.sql").read_text(encoding="utf-8"))
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def _strings(tree: ast.AST) -> list[str]:
    """Each string literal, an f-string as one text with its holes left empty."""
    inside: set[int] = set()
    texts: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
            texts.append(" ".join(str(p) for p in parts))
            inside.update(id(v) for v in node.values)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in inside  # walked breadth first: an f-string before its parts
        ):
            texts.append(node.value)
    return texts


def statement_table(sql: str, tables: set[str]) -> str | None:
    """The table a statement (or a fragment of one) is on, if it names one."""
    outer = sql
    while _PARENS.search(outer):
        outer = _PARENS.sub(" ", outer)
    for text in (outer, sql):  # a fragment may hold its table only inside parentheses
        named = [
            (m.start(), m.group(1))
            for pattern in (_TABLE_AFTER, _TABLE_BEFORE)
            for m in pattern.finditer(text)
            if m.group(1) in tables
        ]
        if named:
            return min(named)[1]
    return None


def _in_store(module: str, store: str | None) -> bool:
    """A store is a module, or a package (a path ending in /) of a table's modules."""
    if store is None:
        return False
    return module.startswith(store) if store.endswith("/") else module == store


def misplaced(server: Path = SERVER) -> list[str]:
    """'module: table' for every statement outside its table's store."""
    tables = schema_tables()
    found = []
    for path in sorted(server.rglob("*.py")):
        module = path.relative_to(server).as_posix()
        if module == "storage/schema.py":  # the migrations themselves
            continue
        for text in _strings(ast.parse(path.read_text(encoding="utf-8"))):
            table = _SQL.search(text) and statement_table(text, tables)
            if table and not _in_store(module, STORES.get(table)):
                found.append(f"{module}: {table}: {' '.join(text.split())[:80]}")
    return found


def test_every_table_has_a_store() -> None:
    assert set(STORES) == schema_tables()


def test_every_statement_is_in_its_tables_store() -> None:
    assert misplaced() == []


def test_a_statement_is_on_the_table_of_its_outermost_clause() -> None:
    tables = {"jobs", "job_logs", "users", "api_tokens"}
    sub = "SELECT seq, (SELECT MAX(seq) FROM job_logs WHERE job_id = jobs.id) FROM jobs WHERE"
    assert statement_table(sub, tables) == "jobs"
    join = "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id"
    assert statement_table(join, tables) == "api_tokens"
    assert statement_table("jobs INDEXED BY jobs_queue WHERE status = 'pending'", tables) == "jobs"
    assert statement_table("DELETE FROM job_logs WHERE job_id = ?", tables) == "job_logs"
