"""/docs and /redoc load Swagger UI and ReDoc from the app itself (fastapi-offline's copies),
never from a CDN, on the stock interpreter and on the free-threaded one with the GIL off.
(tests/browser/test_browser_swagger.py opens /docs in Chromium with the network blocked.)"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.support.api import make_settings
from tests.support.servers import ServerProcess

ASSETS = "/static-offline-docs"


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(
        r"""url: ?["']([^"']+)["']""", html
    )


@pytest.fixture
def docs_client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'api.db'}", tmp_path / "data"))
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("page", "asset"),
    [
        ("/docs", "swagger-ui-bundle.js"),
        ("/docs", "swagger-ui.css"),
        ("/redoc", "redoc.standalone.js"),
    ],
)
def test_docs_pages_use_the_apps_own_assets(docs_client: TestClient, page: str, asset: str) -> None:
    response = docs_client.get(page)
    assert response.status_code == 200
    urls = _asset_urls(response.text)
    assert f"{ASSETS}/{asset}" in urls
    assert not [url for url in urls if url.startswith(("http:", "https:", "//"))], urls
    served = docs_client.get(f"{ASSETS}/{asset}")
    assert served.status_code == 200
    assert len(served.content) > 100_000  # the real bundle, not an empty placeholder


def test_docs_routes_stay_out_of_the_schema(docs_client: TestClient) -> None:
    paths = docs_client.get("/openapi.json").json()["paths"]
    assert "/auth/me" in paths
    assert not [path for path in paths if path.startswith(("/docs", "/redoc", ASSETS))]
    missing = docs_client.get(f"{ASSETS}/nope.js")
    assert missing.status_code == 404
    assert set(missing.json()) == {"error_code", "message"}


@pytest.mark.freethreaded
@pytest.mark.slow
def test_docs_served_by_the_free_threaded_server(ft_python: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ft.db'}"
    with ServerProcess(ft_python, tmp_path / "data", url, gil=0) as server:
        with urllib.request.urlopen(f"{server.url}/docs", timeout=30) as response:
            html = response.read().decode()
        assert f"{ASSETS}/swagger-ui-bundle.js" in _asset_urls(html)
        bundle = f"{server.url}{ASSETS}/swagger-ui-bundle.js"
        with urllib.request.urlopen(bundle, timeout=30) as response:
            assert response.status == 200 and len(response.read()) > 100_000
