"""The web dashboard: server-rendered pages (jinja2, autoescaped) with a little of our own
JavaScript for the live parts. Nothing is loaded from another host, and every page is served
under a Content-Security-Policy without inline scripts or styles (render.py).

    render.py     the template environment, the security headers of every page, the 404 page
    session.py    the signed-in browser: session cookie, CSRF checks, sign-in required
    signin.py     /signin and /signout
    static.py     /static/: our CSS and JS, and the highlighting stylesheet Pygments writes
    joblist.py    / : the user's jobs, filters, search, keyset pages, live rows
    jobpage.py    /jobs/<id>: the job card, phase timeline, live log, diff, actions
    diffview.py   a unified diff parsed into files and highlighted rows (Pygments)
    newjob.py     /jobs/new: the form that starts a job (the API's validation), spec preview
    forms.py      a dashboard form's POST: CSRF check, the action, its outcome or refusal shown
    settings.py   /settings: credentials, secrets, API tokens, browser sessions
    account.py    /account: tier, jobs used and left this cycle, when it renews
    admin.py      /admin (administrators only): users, every user's queue, health, settings
    adminview.py  what /admin shows besides users: health, disk use, queue, settings
    grouppage.py  /groups/<id>: a best-of-N group's attempts side by side, ranked, the pick
    routes.py     every page route, mounted by the app factory
"""
