"""Where workers run. `base.py` is the contract every executor keeps.

local.py        `ckrv worker` subprocesses in their own process group (the default)
kubernetes.py   one batch/v1 Job per job, with a Secret for what its worker receives
k8s_client.py, k8s_manifest.py, k8s_status.py, k8s_watch.py: its API calls, manifests,
                pod status reading and the watch that follows it
"""
