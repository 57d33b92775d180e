"""The endpoints, one module per group; each exports `routes` (handlers only: the OpenAPI
description of routes/X.py is apidocs/paths/X.py).

    jobs.py         /v1/jobs: create, list, get, cancel, diff
    groups.py       /v1/groups: best-of-N attempts at one spec: create, get ranked, cancel
    logs.py         /v1/jobs/{id}/logs: the page and the SSE follow stream
    worker.py       /v1/worker/...: what a job's worker reports
    auth.py         /v1/auth/...: device flow, token refresh, revoke, the current user
    credentials.py  /v1/credentials
    secrets.py      /v1/secrets
    openapi.py      /v1/openapi.json
    activate.py     /activate: the device-flow approval page
    docs.py         /docs: the API reference page

A route module never imports another route module (tests/unit/test_imports.py).
"""
