"""Jobs from creation to their end.

store/             the jobs table: insert with quota, listing, guarded status moves, the
                   queue, retention, the log's bookkeeping columns
public.py          the Job object of the API, built from a row
ids.py             job ids that carry their row number (UUIDv8)
validation.py      repository URLs, branch names, spec text of a new job
creation.py        a new job's request body, checked and settled into a NewJob
groups.py          best-of-N groups: attempts created whole (quota too), compared, ranked
followups.py       follow-ups: a job continuing another's kept result (bundle), its history
inheritance.py     what a follow-up inherits, within the server's current bounds
verify.py          the verify gate: a job's verify commands and fix rounds, settled
lifecycle.py       the engine: every status move goes through it (followers, artifacts,
                   waking the dispatcher through the callable it is given)
dispatcher.py      the database is the queue: start pending jobs within capacity
retention.py       delete expired artifacts, device codes and sessions
launch_secrets.py  what a job's worker receives at launch: credential and agent secrets

The agents, the worker's launch environment and its job description are shared with the worker
and the client: ckrv/contracts/.
"""
