"""compose.yaml and the Dockerfile, checked without a container engine: the compose file
parses, names only real settings, real entry points and defined services and volumes; the
Dockerfile copies files that exist and runs the same commands."""

from __future__ import annotations

import importlib.util
import re

import yaml

from api.core.settings import Settings
from tests.support import ROOT

COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
APP_SERVICES = ("web", "worker", "bench")


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_services_use_real_settings_and_entry_points() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"web", "worker", "bench", "postgres", "redis"}
    fields = {name.upper() for name in Settings.model_fields}
    for name in APP_SERVICES:
        service = services[name]
        assert set(service["environment"]) <= fields, name
        assert service["environment"]["JOB_ENGINE"] == "celery"
        command = service["command"]
        module = command[2] if command[:2] == ["python", "-m"] else command[1].split(":")[0]
        assert importlib.util.find_spec(module) is not None, (name, module)
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], (name, volume)
    # The web processes queue, the workers run: no app service runs the embedded engine.
    assert services["worker"]["command"][:3] == ["python", "-m", "api.worker"]
    assert "--benchmarks" in services["bench"]["command"]
    assert services["bench"]["environment"]["BENCHMARK_HOST"] == services["bench"]["hostname"]


def test_compose_settings_parse() -> None:
    env = dict(_compose()["services"]["bench"]["environment"])
    env["SECRET_KEY"] = "x" * 48  # ${SECRET_KEY:?...}: given at `docker compose up`
    env["DATABASE_URL"] = "postgresql+psycopg://u:p@postgres:5432/nogilbench"
    settings = Settings(**{key.lower(): value for key, value in env.items()})
    assert settings.job_engine == "celery" and settings.celery_broker_url


def test_dockerfile_copies_what_exists_and_serves_the_app() -> None:
    text = DOCKERFILE.read_text()
    for line in re.findall(r"^COPY (.+)$", text, flags=re.MULTILINE):
        *sources, _target = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    assert re.search(r'^CMD \["uvicorn", "api.main:app"', text, flags=re.MULTILINE)
    assert "USER app" in text  # not root
