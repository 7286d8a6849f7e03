"""/api/images: upload, list, get, process, download, delete (owner only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from api.core.errors import error_responses
from api.core.schemas import ImageRead, Limit, Offset, PathId
from api.deps import CurrentClaims, CurrentUser, close_session, open_session, services_of
from api.http.disconnect import ClientWatch
from api.http.downloads import OpenFileResponse
from api.http.openapi import UPLOAD_FORM
from api.services.images import ImageService
from nogilbench.imaging.codec import MEDIA_TYPES
from nogilbench.imaging.pipeline import pipeline_json_schema

router = APIRouter(prefix="/api/images", tags=["images"])

DOWNLOAD_CONTENT = {
    media_type: {"schema": {"type": "string", "format": "binary"}}
    for media_type in MEDIA_TYPES.values()
}

PIPELINE_EXAMPLE = {
    "operations": [{"op": "resize", "width": 320, "height": 240}, {"op": "grayscale"}],
    "format": "webp",
    "quality": 80,
}


async def image_service(request: Request) -> AsyncIterator[ImageService]:
    """The service on the request's own session, closed when the endpoint returns. Built
    from the request alone, not from the Services and SessionDep dependencies: each
    dependency FastAPI solves is CPU on every image request (`loadtest.overhead`)."""
    services = services_of(request)
    settings = services.settings
    session = await open_session(services)
    try:
        yield ImageService(
            session,
            services.uploads,
            services.outputs,
            services.cpu,
            services.metrics,
            settings.max_upload_bytes,
            settings.max_pixels,
            settings.quota_images,
            settings.quota_stored_bytes,
        )
    finally:
        await close_session(session)


Images = Annotated[ImageService, Depends(image_service, scope="function")]


# The body is parsed inside the endpoint, after authentication; the document describes it
# from `api.core.schemas.UploadForm` (component UPLOAD_FORM, completed by `api.http.openapi`).
UPLOAD_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {"$ref": f"#/components/schemas/{UPLOAD_FORM}"}}},
}


async def upload_field(request: Request) -> UploadFile:
    """The multipart field `file` (422 when missing; unparsable multipart is 422 too)."""
    form = await request.form(max_files=1, max_fields=16)
    file = form.get("file")
    if not isinstance(file, UploadFile):
        await form.close()
        missing = {"loc": ("body", "file"), "msg": "Field required", "type": "missing"}
        raise RequestValidationError([missing])
    return file


def _view(image: Any) -> ImageRead:
    return ImageRead.model_validate(image, from_attributes=True)


@router.post(
    "/upload",
    status_code=status.HTTP_201_CREATED,
    response_model=ImageRead,
    summary="Upload an image",
    description="Multipart field `file`. The size limit is enforced while the body streams "
    "in; the format is sniffed from the bytes (JPEG, PNG, WebP, GIF, TIFF, BMP); images "
    "declaring more pixels than the limit are refused before decoding. The file is stored "
    "under a generated name. The bearer token is checked before the body is read.",
    responses=error_responses(
        "INVALID_TOKEN", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "QUOTA_EXCEEDED"
    ),
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload(request: Request, user: CurrentUser, service: Images) -> ImageRead:
    # No body parameter: FastAPI would parse the multipart body before the dependencies run.
    # The caller is authenticated first, so an anonymous upload is refused unread.
    file = await upload_field(request)
    try:
        return _view(await service.upload(user, file, ClientWatch(request.receive)))
    finally:
        await file.close()


@router.get(
    "/",
    response_model=list[ImageRead],
    summary="Your images",
    description="Newest first; only your own images are listed.",
    responses=error_responses("INVALID_TOKEN"),
)
def list_images(
    user: CurrentUser,
    service: Images,
    offset: Offset = 0,
    limit: Limit = 50,
) -> list[ImageRead]:
    return [_view(image) for image in service.list_for(user, offset, limit)]


@router.get(
    "/{image_id:int}",
    response_model=ImageRead,
    summary="One image's record",
    description="Dimensions, formats and, once processed, the pipeline that was applied.",
    responses=error_responses("INVALID_TOKEN", "FORBIDDEN", "IMAGE_NOT_FOUND"),
)
def get_image(image_id: PathId, user: CurrentUser, service: Images) -> ImageRead:
    return _view(service.get(user, image_id))


@router.post(
    "/{image_id:int}/process",
    response_model=ImageRead,
    summary="Run a pipeline on an image",
    description="The body is a nogilbench pipeline (see `GET /api/operations`): ordered "
    "operations with bounded parameters, the output format and quality. The work runs off "
    "the event loop through the CPU limiter; the output has no metadata. Processing again "
    "replaces the previous output.",
    responses=error_responses(
        "INVALID_TOKEN", "FORBIDDEN", "IMAGE_NOT_FOUND", "INVALID_OPERATION", "QUOTA_EXCEEDED"
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": pipeline_json_schema(), "example": PIPELINE_EXAMPLE}
            },
        }
    },
)
async def process_image(
    image_id: PathId,
    pipeline: Annotated[dict[str, Any], Body()],
    claims: CurrentClaims,
    service: Images,
    request: Request,
) -> ImageRead:
    # The body is read: the watch hears the client hang up and stops the work.
    return _view(await service.process(claims, image_id, pipeline, ClientWatch(request.receive)))


@router.get(
    "/{image_id:int}/download",
    status_code=status.HTTP_200_OK,
    response_class=OpenFileResponse,
    summary="Download the processed image",
    description="The output of the last `process` call, with its media type, `Content-Length` "
    "and an `ETag` (SHA-256 of the bytes). All or nothing: the file is opened before the "
    "answer starts, so a `DELETE` or a new `process` during the download never cuts a 200 "
    "short. `Range: bytes=first-last` (one range) answers 206 with that part.",
    responses={
        200: {"content": DOWNLOAD_CONTENT, "description": "the processed image"},
        206: {"content": DOWNLOAD_CONTENT, "description": "the requested byte range"},
        **error_responses(
            "INVALID_TOKEN",
            "FORBIDDEN",
            "IMAGE_NOT_FOUND",
            "IMAGE_NOT_PROCESSED",
            "RANGE_NOT_SATISFIABLE",
        ),
    },
)
def download_image(
    image_id: PathId, user: CurrentUser, service: Images, request: Request
) -> OpenFileResponse:
    opened, media_type, filename = service.download(user, image_id)
    return OpenFileResponse(opened, media_type, filename, request.headers)


@router.delete(
    "/{image_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete an image",
    description="Removes the record, the upload and the processed output.",
    responses=error_responses("INVALID_TOKEN", "FORBIDDEN", "IMAGE_NOT_FOUND"),
)
def delete_image(image_id: PathId, user: CurrentUser, service: Images) -> Response:
    service.delete(user, image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
