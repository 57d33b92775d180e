"""The ckrv server (`ckrv serve`): one process, one asyncio loop, SQLite and a directory.

    app.py        the composition root: `create_app(settings)` builds every component
    services.py   the typed bundle of components a request handler reaches
    serving.py    starts uvicorn on a bound socket (only `ckrv serve` imports it)
    connections.py  uvicorn's HTTP protocol with request-head and body deadlines and a
                  connection cap, and the open-file limit raised at start (serving.py only)
    banner.py     what `ckrv serve` says at start (the API, sign-in and docs URLs, first user)
    serverlog.py  the operator's log: requests, job life, logins, throttles; text or JSON
    admin.py      what `ckrv admin` does to a data dir, with or without a running server
    web/          HTTP plumbing: request auth, routing, throttles, bodies, the error handler
    routes/       one module per group of endpoints (API under /v1, pages), with their OpenAPI
    storage/      the data dir, SQLite (one writer, migrations, checkpoints), artifact files
    identity/     users and quotas, tokens, the device flow, the token-signing key
    vault/        credentials and secrets at rest: the store, AES-GCM, master keys, rotation
    jobs/         job rows, ids, validation, status moves, the dispatcher, retention, launch
    logs/         log ingestion, storage, live fan-out, reading and following, masking
    apidocs/      the OpenAPI document, the /docs reference, generated docs
    executors/    where workers run: local subprocesses or Kubernetes Jobs

The server never imports `ckrv.cli`, `ckrv.client` or `ckrv.worker` (tests/unit/test_imports.py).
"""
