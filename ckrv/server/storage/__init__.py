"""Where the server keeps its state.

data_dir.py         the data dir's layout, created 0700 with its key files on first start
database.py         SQLite: one writer connection, cheap reads, migrations applied at start
schema.py           the numbered migrations (schema.sql is the generated snapshot)
schema_snapshot.py  generates schema.sql from the migrations (`scripts/gen-docs`)
checkpoints.py      WAL checkpoints off the event loop
artifacts.py        diffs and archived logs as files, written atomically
"""
