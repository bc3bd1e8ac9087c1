"""Browser tests: Debian's Chromium (``apt-get install chromium``) driven by Playwright.

Headless, with the flags that keep it from dialling out; never a browser Playwright
downloads. A module uses ``pytestmark = needs_chromium`` and the ``browser`` fixture
(registered for the whole suite in tests/conftest.py); it skips, saying why, where
Chromium or Playwright is missing.
"""

import shutil

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "pass-word-123"  # tests.factories.UserFactory

needs_chromium = [
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"needs Debian's Chromium at {CHROMIUM}"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def browser(monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the test makes between browser steps are still plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # ORM calls made while Playwright's loop ran opened a connection in
            # its context; close it so the test database can be dropped.
            connections.close_all()


def log_in(page, url, username, next_url="/admin/"):
    """Log in through the admin's own form, as a person would."""
    page.goto(f"{url}/admin/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
