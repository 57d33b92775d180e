"""The browser fixtures of the end-to-end tests that drive Debian's Chromium.

browser     Any: a launched Chromium shared by a module's tests (tests/support/browser.py)
page        Any: a desktop page of `browser` for the module's `srv`; when it closes, no
            request left the server and the Content-Security-Policy refused nothing
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import checked_page, chromium
from tests.support.helpers import Server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, srv: Server) -> Iterator[Any]:
    with checked_page(browser, srv.url) as checked:
        yield checked
