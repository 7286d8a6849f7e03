"""A typed client generated from /openapi.json (openapi-python-client) runs the whole flow.

The document is first validated with openapi-spec-validator. The client is generated into a
temporary folder and drives a real uvicorn on SQLite and on PostgreSQL: register, login,
upload, process, download, a batch job and its zip, refresh, the benchmarks list.
"""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from PIL import Image

from api.core.settings import Settings
from api.main import create_app
from tests.support.images import image_bytes
from tests.support.servers import contract_server, live_server

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
# The generator reads one response media type per status; the download's image types and the
# zip are all bytes to it.
GENERATOR_CONFIG = "content_type_overrides:\n" + "".join(
    f"  {media_type}: application/octet-stream\n"
    for media_type in ("image/jpeg", "image/png", "image/webp", "application/zip")
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'api.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("document")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{root / 'a.db'}", data_dir=root / "data"
    )
    response = TestClient(create_app(settings)).get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_openapi_document_is_valid(document: dict[str, Any]) -> None:
    validate(document)
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


@pytest.fixture(scope="module")
def client_package(document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("client")
    (root / "openapi.json").write_text(json.dumps(document))
    (root / "config.yaml").write_text(GENERATOR_CONFIG)
    generated = subprocess.run(
        [str(GENERATOR), "generate", "--path", "openapi.json", "--output-path",
         "generated_client", "--meta", "none", "--config", "config.yaml"],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "WARNING" not in generated.stdout, generated.stdout
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("generated_client")
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.startswith("generated_client")]:
            del sys.modules[name]


def _module(package: Any, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


@pytest.mark.slow
def test_whole_flow_through_the_generated_client(
    client_package: Any, db_url: str, tmp_path: Path
) -> None:
    models = _module(client_package, "models")
    types = _module(client_package, "types")
    api = {
        name: _module(client_package, f"api.{group}.{name}")
        for group, names in {
            "auth": ["register", "login", "refresh"],
            "images": ["upload", "process_image", "download_image"],
            "jobs": ["create_batch", "get_job", "job_result"],
            "benchmarks": ["list_benchmarks"],
        }.items()
        for name in names
    }
    with live_server(contract_server(sys.executable, tmp_path, db_url)) as base:
        anonymous = client_package.Client(base_url=base, raise_on_unexpected_status=True)
        email, password = "generated@example.com", "generated client password"
        user = api["register"].sync(
            client=anonymous, body=models.RegisterRequest(email=email, password=password)
        )
        assert isinstance(user, models.UserRead) and user.email == email
        tokens = api["login"].sync(
            client=anonymous, body=models.BodyLogin(username=email, password=password)
        )
        assert isinstance(tokens, models.TokenPair)
        client = client_package.AuthenticatedClient(
            base_url=base, token=tokens.access_token, raise_on_unexpected_status=True
        )

        upload = models.BodyUpload(
            file=types.File(
                payload=io.BytesIO(image_bytes()), file_name="a.png", mime_type="image/png"
            )
        )
        image = api["upload"].sync(client=client, body=upload)
        assert isinstance(image, models.ImageRead) and image.width == 64
        pipeline = {"operations": [{"op": "grayscale"}], "format": "webp", "quality": 80}
        processed = api["process_image"].sync(
            image.id, client=client, body=models.ProcessImagePipeline.from_dict(pipeline)
        )
        assert isinstance(processed, models.ImageRead) and processed.processed_format == "webp"
        download = api["download_image"].sync_detailed(image.id, client=client)
        assert download.status_code == 200
        assert Image.open(io.BytesIO(download.content)).format == "WEBP"

        batch = models.BatchRequest.from_dict(
            {"image_ids": [image.id], "pipeline": pipeline, "workers": 1}
        )
        accepted = api["create_batch"].sync(client=client, body=batch)
        assert isinstance(accepted, models.JobAccepted)
        deadline = time.monotonic() + 120
        while (job := api["get_job"].sync(accepted.job_id, client=client)).status not in (
            "completed",
            "failed",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job.status == "completed" and job.done == 1
        result = api["job_result"].sync_detailed(accepted.job_id, client=client)
        assert result.status_code == 200
        with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
            assert len(archive.namelist()) == 1

        rotated = api["refresh"].sync(
            client=anonymous, body=models.RefreshRequest(refresh_token=tokens.refresh_token)
        )
        assert isinstance(rotated, models.TokenPair)
        assert rotated.refresh_token != tokens.refresh_token
        benchmarks = api["list_benchmarks"].sync(client=client)
        assert isinstance(benchmarks, list)
