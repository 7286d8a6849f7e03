"""The OpenAPI document: FastAPI's, generated from the routes and pydantic models, plus what
only the running app knows.

- operation ids are the endpoint functions' names (`upload`, `get_job`), so a generated client
  has readable method names;
- limits that are settings, not constants (upload size, batch size and workers), are written
  into the schemas the models generate, from the same settings the services enforce, and the
  batch methods are narrowed to those this interpreter can run;
- the upload's multipart body (read by the route itself, after authentication) is described
  from `api.core.schemas.UploadForm`; its file part lists the image media types the server accepts;
- links from each create operation to the resources it returns, so clients and stateful
  fuzzers can follow them (image -> process/download/delete/batch, batch -> job/events/result,
  benchmark run -> job -> benchmark).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api.core.schemas import MAX_COMPARE, UploadForm
from api.core.security import MAX_ID
from api.core.settings import Settings
from nogilbench.concurrency.base import MethodUnavailable
from nogilbench.concurrency.runners import make_runner
from nogilbench.imaging.codec import ALLOWED_INPUT_FORMATS

UPLOAD_FORM = "Body_upload"  # the upload's multipart body, read by the route itself
UPLOAD_MEDIA_TYPES = ", ".join(f"image/{name.lower()}" for name in sorted(ALLOWED_INPUT_FORMATS))


def operation_id(route: APIRoute) -> str:
    """The endpoint function's name (unique across the app; a test checks it)."""
    return route.name


def _link(target: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": target, "parameters": parameters, "description": description}


IMAGE_ID = "$response.body#/id"
JOB_ID = "$response.body#/job_id"

# operationId -> status -> link name -> link
LINKS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "upload": {
        "201": {
            "GetImage": _link("get_image", "the uploaded image's record", image_id=IMAGE_ID),
            "ProcessImage": _link("process_image", "run a pipeline on it", image_id=IMAGE_ID),
            "DownloadImage": _link(
                "download_image", "its output, once processed", image_id=IMAGE_ID
            ),
            "DeleteImage": _link("delete_image", "delete it", image_id=IMAGE_ID),
            "BatchImage": {
                "operationId": "create_batch",
                "requestBody": {
                    "image_ids": [IMAGE_ID],
                    "pipeline": {"operations": [{"op": "grayscale"}], "format": "png"},
                },
                "description": "process it in a background batch job",
            },
        }
    },
    "process_image": {
        "200": {
            "DownloadImage": _link("download_image", "the processed output", image_id=IMAGE_ID),
        }
    },
    "create_batch": {
        "202": {
            "GetJob": _link("get_job", "the job's status", job_id=JOB_ID),
            "JobEvents": _link("job_events", "the job's progress stream", job_id=JOB_ID),
            "JobResult": _link("job_result", "the zip, once completed", job_id=JOB_ID),
        }
    },
    "run_benchmark": {
        "202": {
            "GetJob": _link("get_job", "the benchmark job's status", job_id=JOB_ID),
            "JobEvents": _link("job_events", "the job's progress stream", job_id=JOB_ID),
        }
    },
    "get_job": {
        "200": {
            "GetBenchmark": _link(
                "get_benchmark",
                "the stored sweep of a completed benchmark job (`sweep_id`)",
                sweep_id="$response.body#/sweep_id",
            ),
            "JobResult": _link(
                "job_result", "a completed batch's zip", job_id="$response.body#/id"
            ),
        }
    },
    "login": {
        "200": {
            "Refresh": {
                "operationId": "refresh",
                "requestBody": {"refresh_token": "$response.body#/refresh_token"},
                "description": "rotate the refresh token",
            }
        }
    },
}


def runnable_methods(methods: tuple[str, ...]) -> list[str]:
    """The batch methods this interpreter can run (`free-threaded` needs the GIL off, ...)."""
    available = []
    for method in methods:
        try:
            make_runner(method, 1)
        except MethodUnavailable:
            continue
        available.append(method)
    return available


def _upload_form(document: dict[str, Any]) -> None:
    """The upload route declares no body parameter (the token is checked before the body is
    read); its `requestBody` refers to this component, generated from `UploadForm`."""
    document["components"]["schemas"][UPLOAD_FORM] = UploadForm.model_json_schema()


def _settings_limits(document: dict[str, Any], settings: Settings) -> None:
    schemas = document["components"]["schemas"]
    batch = schemas["BatchRequest"]["properties"]
    for variant in batch["method"]["anyOf"]:
        if "enum" in variant:
            variant["enum"] = runnable_methods(tuple(variant["enum"]))
    batch["image_ids"]["maxItems"] = settings.batch_max_images
    batch["workers"]["maximum"] = min(batch["workers"]["maximum"], settings.batch_max_workers)
    upload = document["paths"]["/api/images/upload"]["post"]["requestBody"]["content"]
    multipart = upload["multipart/form-data"]
    body_ref = multipart["schema"]["$ref"].rsplit("/", 1)[-1]
    file_schema = schemas[body_ref]["properties"]["file"]
    file_schema["format"] = "binary"
    file_schema["minLength"] = 1  # an empty file is refused (415)
    file_schema["description"] = (
        f"the image: {UPLOAD_MEDIA_TYPES.replace('image/', '').upper()} (sniffed from the "
        f"bytes), at most {settings.max_upload_bytes:,} bytes and {settings.max_pixels:,} pixels"
    )
    multipart["encoding"] = {"file": {"contentType": UPLOAD_MEDIA_TYPES}}


def _compare_ids(document: dict[str, Any]) -> None:
    """`?ids=1,2`: parsed by `parse_ids`; declared as the array of ids it is."""
    operation = document["paths"]["/api/benchmarks/compare"]["get"]
    for parameter in operation["parameters"]:
        if parameter["name"] == "ids":
            parameter["style"], parameter["explode"] = "form", False
            parameter["schema"] = {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "minItems": 1,
                "maxItems": MAX_COMPARE,
                "title": "Ids",
            }


def _form_fields(document: dict[str, Any]) -> None:
    """FastAPI reads an empty form field as a missing one (422): say so with `minLength`.
    A form field cannot be null (it is left out instead): drop `null` from optional ones."""
    for path_item in document["paths"].values():
        for operation in path_item.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                if media_type not in content:
                    continue
                name = content[media_type]["schema"]["$ref"].rsplit("/", 1)[-1]
                schema = document["components"]["schemas"][name]
                for field, prop in schema["properties"].items():
                    variants = prop.pop("anyOf", None)
                    if variants is not None:
                        (kept,) = [v for v in variants if v.get("type") != "null"]
                        prop.update(kept)
                    required = field in schema.get("required", [])
                    if required and prop.get("type") == "string" and prop.get("format") != "binary":
                        prop.setdefault("minLength", 1)


def _add_links(document: dict[str, Any]) -> None:
    operations = {
        operation["operationId"]: operation
        for path_item in document["paths"].values()
        for operation in path_item.values()
    }
    for source, by_status in LINKS.items():
        for status, links in by_status.items():
            for link in links.values():
                if link["operationId"] not in operations:  # a renamed endpoint
                    raise RuntimeError(f"OpenAPI link to unknown operation {link['operationId']}")
            operations[source]["responses"][status].setdefault("links", {}).update(links)


def install_openapi(app: FastAPI, settings: Settings) -> Callable[[], dict[str, Any]]:
    """Replace `app.openapi` with the generator above (cached, like FastAPI's own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            _upload_form(document)
            _settings_limits(document, settings)
            _compare_ids(document)
            _form_fields(document)
            _add_links(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return openapi
