"""Swagger UI at /docs of a live uvicorn, in Chromium with no network beyond loopback: the
operations list renders from the app's own assets, a registered user authorizes through the
Authorize dialog, and GET /auth/me called from the page answers 200 with that user."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import Browsing
from tests.support.servers import ServerProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EMAIL = "swagger-user@example.com"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("swagger")
    with ServerProcess(sys.executable, folder / "data", f"sqlite:///{folder / 'api.db'}") as live:
        yield live


def _register(base_url: str) -> None:
    body = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"{base_url}/auth/register", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201


def test_docs_render_offline_and_authorized_call_succeeds(
    server: ServerProcess, browsing: Browsing, tmp_path: Path
) -> None:
    _register(server.url)
    page = browsing.page
    page.goto(f"{server.url}/docs")

    # The operations list, drawn by the Swagger UI script served by the app itself.
    page.wait_for_selector(".opblock", timeout=60_000)
    assert page.locator(".opblock").count() >= 10
    me = page.locator(".opblock.opblock-get", has=page.locator('[data-path="/auth/me"]'))
    assert me.count() == 1

    # Authorize through the dialog (OAuth2 password flow: the UI fetches the user's token).
    page.click("button.authorize")
    page.fill("#oauth_username", EMAIL)
    page.fill("#oauth_password", PASSWORD)
    page.click(".auth-btn-wrapper button.authorize")
    dialog = page.locator(".modal-ux")
    dialog.get_by_text("Logout", exact=True).wait_for()  # authorized: the dialog offers logout
    dialog.get_by_text("Close", exact=True).click()

    # GET /auth/me from the page: Try it out, Execute, the live response is 200.
    me.locator(".opblock-summary").click()
    me.locator("button.try-out__btn").click()
    me.locator("button.execute").click()
    status = me.locator(".live-responses-table .response .response-col_status")
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert (
        EMAIL
        in me.locator(".live-responses-table .response .response-col_description").inner_text()
    )
    assert "Authorization: Bearer " in me.locator(".curl-command").inner_text()

    assert browsing.blocked == [], f"the page reached beyond loopback: {browsing.blocked}"
