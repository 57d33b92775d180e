"""What the server, the worker and the client agree on, written once. Every module here imports
only the standard library (and each other), so the CLI's fast paths and the worker can use them;
none imports `ckrv.server`, `ckrv.worker`, `ckrv.client` or `ckrv.cli`.

    launch_env.py       the worker's launch environment: the variable names an executor sets
                        and the worker reads, with `WorkerEnvironment.encode()` / `.decode()`
    secret_channel.py   how the worker's secrets travel beside its environment: an inherited
                        socket (local) or a file it deletes (kubernetes)
    job_description.py  the job as the worker receives it (`GET /v1/worker/jobs/{id}`, or a
                        local run): `JobDescription`, with `to_wire()` / `from_wire()`
    agents.py           an agent's configuration, the presets, and the agents a config offers
    credentials.py      git credentials: providers, types, usernames, which URL fits which type
    masking.py          finding and masking secret values (and token shapes) in text
    jobmodel.py         job statuses and phases as `Literal`s, short ids, titles and branches
    network.py          a job's network policy: modes, host patterns, how the layers settle it
    cost.py             what an agent run cost, as its agent reports it in CKRV_COST_FILE
"""
