"""The API reference at /docs on a phone: in Debian's Chromium (never a downloaded browser), at
375 CSS pixels wide, the page does not scroll sideways; wide tables and code scroll inside
themselves."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.helpers import Server

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}


def test_docs_does_not_scroll_sideways_at_phone_width(live: Server, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{live.url}/docs")
        page.wait_for_selector("section.op")
        widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"the page is {widths[0]}px wide in a {widths[1]}px view"
    finally:
        context.close()
