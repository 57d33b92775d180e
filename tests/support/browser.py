"""Driving the dashboard in Debian's Chromium with Playwright (never a downloaded browser):
launching it, signing in, checking a page with axe-core (installed from the npm registry by
`scripts/setup --dev`, outside the repository), screenshots for a person to look at, and the
log of every request a page made (the pages may ask nothing of another host)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.helpers import PASSWORD, ROOT
from tests.support.prerequisites import require

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def axe_script() -> Path:
    cache = os.environ.get("CKRV_TEST_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ckrv-tests"
    )
    return Path(cache) / "node_modules" / "axe-core" / "axe.min.js"


def screenshot_dir() -> Path:
    """Where the run leaves its screenshots: CKRV_SCREENSHOT_DIR, or test-artifacts/ (ignored
    by git) in the checkout."""
    path = Path(os.environ.get("CKRV_SCREENSHOT_DIR") or ROOT / "test-artifacts" / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def launch(playwright: Any) -> Any:
    executable = shutil.which("chromium")
    require(executable is not None, "Debian's chromium is not installed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched Chromium for a module's tests (its `browser` fixture), closed after them."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@dataclass
class RequestLog:
    """Every URL a browser context asked for, and every CSP violation its pages reported."""

    origin: str
    urls: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def watch(self, context: Any) -> None:
        context.on("request", lambda request: self.urls.append(request.url))
        context.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(message.text)

    def foreign(self) -> list[str]:
        """The URLs on any host but the server's own (data: URLs are the page's own bytes)."""
        own = urlsplit(self.origin).netloc
        return [u for u in self.urls if not u.startswith("data:") and urlsplit(u).netloc != own]


@contextmanager
def checked_page(browser: Any, base_url: str) -> Iterator[Any]:
    """A page (desktop width) under the real Content-Security-Policy; when it closes, no
    request may have left the server and the policy may have refused nothing."""
    requests = RequestLog(base_url)
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    requests.watch(context)
    try:
        yield context.new_page()
    finally:
        context.close()
    assert requests.foreign() == [], "the pages asked another host"
    assert requests.violations == [], "the Content-Security-Policy refused something"


def sign_in(page: Any, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Jobs").wait_for()


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    script = axe_script()
    require(script.is_file(), f"axe-core is not installed at {script} (scripts/setup --dev)")
    page.add_script_tag(path=str(script))
    results = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results
        if v["impact"] in ("serious", "critical")
    ]


def audit(browser: Any, storage_state: Any, url: str, name: str, ready: str = "main") -> list[str]:
    """Open `url` as the signed-in browser whose cookies are `storage_state`, in a context that
    lets axe's script in (bypass_csp: the real pages allow no injected script), at desktop and
    phone width and in the dark colour scheme, once `ready` is on it: the screenshots are saved; what is wrong (axe's
    serious findings, a page wider than the phone) is returned."""
    found: list[str] = []
    looks = (("desktop", DESKTOP, "light"), ("phone", PHONE, "light"), ("dark", DESKTOP, "dark"))
    for label, viewport, scheme in looks:
        context = browser.new_context(
            viewport=viewport, bypass_csp=True, storage_state=storage_state, color_scheme=scheme
        )
        try:
            page = context.new_page()
            page.goto(url)
            page.locator(ready).first.wait_for()  # (a live page's stream never goes idle)
            page.screenshot(path=str(screenshot_dir() / f"{name}-{label}.png"), full_page=True)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            if overflow > 0:
                found.append(f"{name} scrolls sideways at {label} width ({overflow}px)")
            found.extend(f"{name} ({label}): {v}" for v in serious_violations(page))
        finally:
            context.close()
    return found
