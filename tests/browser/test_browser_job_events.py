"""A browser's EventSource follows a real batch job on a live uvicorn to `done`: the page asks
for a stream token with its access token (fetch can send the header, EventSource cannot),
opens the events URL with it, and receives the progress and the end. uvicorn's own access
log is on, and the token is not in it."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tests.support.api import PASSWORD, PIPELINE
from tests.support.browser import Browsing
from tests.support.images import image_bytes
from tests.support.servers import contract_server, live_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UVICORN_WITH_ACCESS_LOG = [
    "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", "{port}",
    "--log-level", "info",
]  # fmt: skip

FOLLOW = """
async ([jobId, access]) => {
  const issued = await fetch(`/api/jobs/${jobId}/stream-token`,
                             {method: "POST", headers: {Authorization: `Bearer ${access}`}});
  if (!issued.ok) throw new Error(`stream-token: ${issued.status}`);
  const {events_url} = await issued.json();
  return await new Promise((resolve, reject) => {
    const progress = [];
    const source = new EventSource(events_url);
    source.addEventListener("progress", (e) => progress.push({id: e.lastEventId,
                                                               data: JSON.parse(e.data)}));
    source.addEventListener("done", (e) => {
      source.close();
      resolve({progress, id: e.lastEventId, done: JSON.parse(e.data), url: events_url});
    });
    source.addEventListener("error", (e) => {
      if (e.data) { source.close(); reject(new Error(`error event: ${e.data}`)); }
    });
    setTimeout(() => { source.close(); reject(new Error("no done event in 90 s")); }, 90000);
  });
}
"""


def test_event_source_follows_a_job_to_done(browsing: Browsing, tmp_path: Path) -> None:
    server = contract_server(
        sys.executable, tmp_path, f"sqlite:///{tmp_path / 'api.db'}",
        args=UVICORN_WITH_ACCESS_LOG, SSE_POLL_SECONDS="5",
    )  # fmt: skip
    with live_server(server) as base, httpx.Client(base_url=base, timeout=60) as client:
        email = "browser-events@example.com"
        assert client.post("/auth/register", json={"email": email, "password": PASSWORD})
        login = client.post("/auth/login", data={"username": email, "password": PASSWORD})
        access = login.json()["access_token"]
        client.headers["Authorization"] = f"Bearer {access}"
        ids = [
            client.post(
                "/api/images/upload",
                files={"file": (f"{n}.png", image_bytes((96, 64), color=(n * 60, 90, 30)),
                                "image/png")},
            ).json()["id"]
            for n in range(4)
        ]  # fmt: skip
        batch = {"image_ids": ids, "pipeline": PIPELINE, "method": "sync", "workers": 1}
        accepted = client.post("/api/jobs/batch", json=batch)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]

        page = browsing.page
        page.goto(f"{base}/docs")  # a page of the service's own origin
        result = page.evaluate(FOLLOW, [job_id, access])  # type: ignore[attr-defined]

        assert result["done"]["status"] == "completed"
        assert (result["done"]["done"], result["done"]["total"]) == (4, 4)
        assert result["id"] == "completed-4-0-4"
        assert result["progress"] and result["progress"][-1]["id"] == result["id"]
        token = result["url"].split("stream_token=", 1)[1]
    assert browsing.blocked == []
    log = server.log(tail=10**6)
    assert f"/api/jobs/{job_id}/events?stream_token=[redacted]" in log  # uvicorn's access log
    assert token not in log
    assert token.split(".")[2] not in log  # not even its signature
