"""`/account`: the signed-in user's tier, the jobs used and left in this billing cycle and when
it renews (the quota refusal points here when the server names no other upgrade page)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ckrv.server.identity.users import TIERS, profile
from ckrv.server.pages.render import page
from ckrv.server.pages.session import Browser, signed_in_page
from ckrv.server.web.request_auth import services


async def show(request: Request, browser: Browser) -> Response:
    me = profile(browser.user)
    tier = TIERS[me["subscription_tier"]]
    upgrade = services(request).settings.upgrade_url
    return page(
        "account.html",
        browser=browser,
        nav="account",
        me=me,
        tier=tier,
        tiers=list(TIERS.values()),
        upgrade_url=upgrade if upgrade.startswith(("https://", "http://")) else "",
    )


routes: list[BaseRoute] = [Route("/account", signed_in_page(show), methods=["GET"])]
