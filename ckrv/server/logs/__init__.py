"""Job logs on the server.

service.py  ingestion with caps, live fan-out, the archive when a job ends
store.py    rows in SQLite while a job runs, a JSON-lines archive after
hub.py      in-process fan-out of new lines to followers
stream.py   reading forward: the JSON page and the SSE follow stream
masking.py  the server's second mask over what a worker sends (one Masker per job)
"""
