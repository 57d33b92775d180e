"""Log storage benchmark: what a job's capped log costs on disk. Prints a table and writes
bench/results/bench_log_storage.json.

One job logs far past `max_log_bytes` through the server's own ingestion path (LogService on a
real SQLite database, batches of 1,000 lines), then ends: its log is archived and its rows
deleted. Measured per MiB of `max_log_bytes`: the database file and WAL at their largest while
the job logs and after it ended, and the archive. Short lines are the worst case (a row's fixed
cost dwarfs its message), so two line sizes are run.

Run: .venv/bin/python bench/bench_log_storage.py [--quick] [--mib N]"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ckrv.server.identity import users  # noqa: E402
from ckrv.server.jobs import store as jobs  # noqa: E402
from ckrv.server.logs.service import LogService  # noqa: E402
from ckrv.server.storage.database import Database  # noqa: E402
from ckrv.timeutil import iso, utcnow  # noqa: E402

MIB = 1024 * 1024


async def _running_job(db: Database) -> str:
    def insert(conn: sqlite3.Connection) -> str:
        user_id = users.add_user(conn, "bench@example.com", "bench", "pro", None)
        new = jobs.NewJob(user_id, "# spec\n", "https://git.example/a.git", "main", "bench", 60)
        jobs.insert_jobs(conn, [new], "")
        job_id = str(conn.execute("SELECT id FROM jobs ORDER BY seq DESC LIMIT 1").fetchone()[0])
        conn.execute("UPDATE jobs SET status = 'running' WHERE id = ?", (job_id,))
        return job_id

    return await db.write(insert)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def run_case(root: Path, budget: int, line_bytes: int) -> dict[str, Any]:
    db = Database(root / "ckrv.db")
    db.open()
    service = LogService(db, root, budget)
    await service.start()
    db_path, wal = root / "ckrv.db", root / "ckrv.db-wal"
    peak_db = peak_wal = 0
    try:
        job_id = await _running_job(db)
        seq, message = 0, "x" * line_bytes
        fed = 0
        while fed < 2 * budget:  # twice the budget: the rest is dropped
            batch = []
            for _ in range(1000):
                seq += 1
                batch.append(
                    {
                        "seq": seq,
                        "timestamp": iso(utcnow()),
                        "level": "info",
                        "source": "agent",
                        "message": message,
                    }
                )
            fed += 1000 * line_bytes
            await service.ingest(job_id, batch)
            peak_db, peak_wal = max(peak_db, _size(db_path)), max(peak_wal, _size(wal))
        await db.write(lambda c: c.execute("UPDATE jobs SET status = 'succeeded'"))
        await service.job_ended(job_id)
        await asyncio.sleep(2.5)  # two checkpoint passes
        peak_db, peak_wal = max(peak_db, _size(db_path)), max(peak_wal, _size(wal))
        archive = service.archive_path(job_id)
        row = db.read_one("SELECT log_bytes FROM jobs WHERE id = ?", (job_id,))
        stored_lines = sum(1 for _ in archive.open("rb"))
    finally:
        await service.stop()
        db.close()
    per_mib = MIB / budget
    return {
        "line_bytes": line_bytes,
        "max_log_bytes": budget,
        "lines_stored": stored_lines,
        "message_bytes_stored": stored_lines * line_bytes,
        "log_bytes_counted": row["log_bytes"] if row else None,
        "peak_db_bytes_per_mib": round(peak_db * per_mib),
        "peak_wal_bytes_per_mib": round(peak_wal * per_mib),
        "db_after_bytes_per_mib": round(_size(db_path) * per_mib),
        "wal_after_bytes_per_mib": round(_size(wal) * per_mib),
        "archive_bytes_per_mib": round(_size(archive) * per_mib),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 4 MiB budget")
    parser.add_argument("--mib", type=int, default=16, help="max_log_bytes in MiB")
    parser.add_argument("--label", default="", help="a name for this run in the JSON")
    args = parser.parse_args()
    budget = (4 if args.quick else args.mib) * MIB
    results = []
    for line_bytes in (16, 100):
        with tempfile.TemporaryDirectory(prefix="ckrv-bench-") as tmp:
            results.append(asyncio.run(run_case(Path(tmp), budget, line_bytes)))
    columns = [
        ("line", "line_bytes"),
        ("lines kept", "lines_stored"),
        ("db peak/MiB", "peak_db_bytes_per_mib"),
        ("WAL peak/MiB", "peak_wal_bytes_per_mib"),
        ("db after/MiB", "db_after_bytes_per_mib"),
        ("archive/MiB", "archive_bytes_per_mib"),
    ]
    print(f"max_log_bytes = {budget // MIB} MiB; bytes on disk per MiB of max_log_bytes")
    print(" | ".join(f"{title:>13}" for title, _ in columns))
    for result in results:
        print(" | ".join(f"{result[key]:>13,}" for _, key in columns))
    out = ROOT / "bench" / "results" / "bench_log_storage.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous[args.label or "latest"] = {"max_log_bytes": budget, "cases": results}
    out.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
