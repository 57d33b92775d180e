"""HTTP plumbing shared by every route.

access_log.py    the access log middleware: one record per request, a warning per 429
errors.py        the one error handler: any CkrvError as its status and JSON body
http.py          JSON bodies (a route's unknown keys refused) and fields, cursors, query
                 parameters, fast JSON responses
request_auth.py  who is calling (a user's bearer token or a worker's job token), and the job
                 the calling user owns
routing.py       the API's routes indexed by path shape
throttle.py      sliding-window counters for guessed codes and device-login starts, and the
                 wrong-password lockout per (account, address) with its per-account backoff
"""
