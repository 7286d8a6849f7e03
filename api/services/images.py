"""Upload, list, process, download and delete images, each user seeing only their own."""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from sqlmodel import Session
from starlette.datastructures import UploadFile

from api.core.accounts import AccessClaims, check_account, missing_user
from api.core.errors import ImageNotFound, ImageNotProcessed, PayloadTooLarge
from api.core.models import Image, User, utcnow
from api.core.storage import EXTENSIONS, FileStore
from api.core.threads import in_thread
from api.http import timing
from api.http.disconnect import NO_WATCH, ClientWatch, checkpoint
from api.http.downloads import OpenedFile, open_stored
from api.http.metrics import Metrics
from api.repositories import images
from api.repositories.usage import Quotas
from api.services import quotas
from api.services.cpu_limiter import CpuLimiter
from nogilbench.errors import NogilbenchError
from nogilbench.imaging.codec import MEDIA_TYPES, decode_image
from nogilbench.imaging.pipeline import Pipeline, Rendered, parse_pipeline

READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Probe:
    source_format: str
    width: int
    height: int


def probe_image(data: bytes, max_pixels: int) -> Probe:
    """Sniff and fully decode (corrupt files are refused now, not at processing time)."""
    decoded = decode_image(data, max_pixels)
    width, height = decoded.image.size
    return Probe(decoded.source_format, width, height)


def display_name(raw: str | None) -> str:
    """The client's file name reduced to a harmless label (it never names a file on disk)."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:255] or "upload"


def owned_image(session: Session, image_id: int, user: User) -> Image:
    """The user's image; another user's answers exactly like a missing one (404), so ids
    cannot be probed for what exists."""
    image = images.get(session, image_id)
    if image is None or image.owner_id != user.id:
        raise ImageNotFound(f"image {image_id} does not exist")
    return image


class ImageService:
    def __init__(
        self,
        session: Session,
        uploads: FileStore,
        outputs: FileStore,
        cpu: CpuLimiter,
        metrics: Metrics,
        max_upload_bytes: int,
        max_pixels: int,
        quota_images: int = 0,
        quota_stored_bytes: int = 0,
    ) -> None:
        self.session = session
        self.uploads = uploads
        self.outputs = outputs
        self.cpu = cpu
        self.metrics = metrics
        self.max_upload_bytes = max_upload_bytes
        self.max_pixels = max_pixels
        # Active jobs are not this service's to count (it adds none).
        self.quotas = Quotas(quota_images, quota_stored_bytes, active_jobs=0)

    def check_quota(self, user: User, new_bytes: int, *, replacing: int | None = None) -> None:
        """QuotaExceeded if `new_bytes` more would pass the user's quotas now: one more
        image, or (with `replacing`, the size of the output it replaces) a new processed
        output. Early, before costly work; the insert or swap that keeps it is what counts."""
        try:
            quotas.precheck(
                self.session,
                user.id,  # type: ignore[arg-type]
                self.quotas,
                images=0 if replacing is not None else 1,
                stored_bytes=new_bytes - (replacing or 0),
            )
        finally:
            self.session.close()  # the connection goes back before the CPU or file work next

    async def upload(self, user: User, file: UploadFile, client: ClientWatch = NO_WATCH) -> Image:
        try:
            data = await self._read_limited(file)
            await in_thread(self.check_quota, user, len(data))
            # A client that hangs up while it waits for a CPU token leaves the queue.
            probe = await client.run(lambda: self.cpu.run(probe_image, data, self.max_pixels))
        except NogilbenchError as exc:
            self.metrics.uploads_rejected.labels(exc.error_code).inc()
            raise
        stored_name = FileStore.new_name(EXTENSIONS.get(probe.source_format, "bin"))
        await in_thread(self.uploads.write, stored_name, data)
        record = Image(
            owner_id=user.id,  # type: ignore[arg-type]
            filename=display_name(file.filename),
            stored_name=stored_name,
            source_format=probe.source_format,
            content_type=MEDIA_TYPES.get(
                probe.source_format, f"image/{probe.source_format.lower()}"
            ),
            width=probe.width,
            height=probe.height,
            size_bytes=len(data),
        )
        try:
            await in_thread(self._insert, record)
        except BaseException:
            await in_thread(self.uploads.delete, stored_name)
            raise
        self.metrics.images_uploaded.inc()
        return record

    def _insert(self, record: Image) -> None:
        try:
            if images.add(self.session, record, self.quotas) is None:
                raise quotas.exceeded(
                    self.session,
                    record.owner_id,
                    self.quotas,
                    images=1,
                    stored_bytes=record.size_bytes,
                )
            self.session.commit()
            self.session.refresh(record)
        finally:
            self.session.close()  # the connection goes back now, the row stays readable

    async def _read_limited(self, file: UploadFile) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := await file.read(READ_CHUNK):
            size += len(chunk)
            if size > self.max_upload_bytes:
                raise PayloadTooLarge(
                    f"the file is larger than the upload limit of {self.max_upload_bytes:,} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def list_for(self, user: User, offset: int, limit: int) -> list[Image]:
        return images.list_for_owner(self.session, user.id, offset, limit)  # type: ignore[arg-type]

    def get(self, user: User, image_id: int) -> Image:
        return owned_image(self.session, image_id, user)

    async def process(
        self,
        claims: AccessClaims,
        image_id: int,
        raw_pipeline: Any,
        client: ClientWatch = NO_WATCH,
    ) -> Image:
        """The token was verified in the event loop; its account is checked here, in the
        query that reads the image (one thread hop, one statement, for both)."""
        record, pipeline = await in_thread(self._checked_source, image_id, claims, raw_pipeline)
        started = time.perf_counter()
        # Queued or running, the work stops when the client hangs up (see api.http.disconnect):
        # the one render of the library, checking for it before each step. Reading the upload
        # and storing the output run in the same thread hop, after the last check: each hop is
        # a round trip through the event loop (with the GIL, a wait for it behind the other
        # requests' image work) that costs more than those steps themselves.
        record = await client.run(
            lambda: self.cpu.run(self._render_and_store, record, pipeline, started)
        )
        self.metrics.images_processed.labels("process").inc()
        return record

    def _checked_source(
        self, image_id: int, claims: AccessClaims, raw_pipeline: Any
    ) -> tuple[Image, Pipeline]:
        """The user's image row and the parsed pipeline, if it may run on it: before any CPU
        token is taken, a missing image or a pipeline that would grow past the limit is
        refused from the stored size, before the file is read or a pixel allocated. The
        errors come in the order of every other route's: the account, the body, the image."""
        with timing.phase("lookup"):
            try:
                found = images.owned_with_account(self.session, image_id, claims.user_id)
            finally:
                self.session.close()  # the connection goes back: the CPU is waited for next
        if found is None:
            raise missing_user()
        is_active, sessions_revoked_at, record = found
        check_account(is_active, sessions_revoked_at, claims.issued_at)
        pipeline = parse_pipeline(raw_pipeline)
        if record is None:  # missing or another user's: the same answer
            raise ImageNotFound(f"image {image_id} does not exist")
        pipeline.check_size((record.width, record.height), self.max_pixels)
        return record, pipeline

    def _render_and_store(self, record: Image, pipeline: Pipeline, started: float) -> Image:
        with timing.phase("read"):
            try:
                data = self.uploads.read(record.stored_name)
            except FileNotFoundError:  # a DELETE came between the lookup and the CPU token
                raise ImageNotFound(f"image {record.id} does not exist") from None
        with timing.phase("render"):
            rendered = pipeline.render(data, self.max_pixels, checkpoint)
        elapsed_ms = (time.perf_counter() - started) * 1000
        return self._store_output(record, pipeline, rendered, elapsed_ms)

    def _store_output(
        self, record: Image, pipeline: Pipeline, rendered: Rendered, elapsed_ms: float
    ) -> Image:
        """The output file, the row pointed at it, the superseded file gone. The swap counts
        the output against the user's storage quota in its own UPDATE (a refusal deletes the
        file): the work is done by now, so a check before the write would save nothing."""
        extension = {"jpeg": "jpg"}.get(pipeline.format, pipeline.format)
        output_name = FileStore.new_name(extension)
        with timing.phase("write"):
            self.outputs.write(output_name, rendered.data)
        values = {
            "status": "processed",
            "processed_name": output_name,
            "processed_format": pipeline.format,
            "processed_size_bytes": len(rendered.data),
            "processed_width": rendered.width,
            "processed_height": rendered.height,
            "pipeline": pipeline.to_dict(),
            "processing_ms": round(elapsed_ms, 3),
            "processed_at": utcnow(),
        }
        try:
            with timing.phase("commit"):
                superseded, record = self._replace_output(record, values)
        except BaseException:
            self.outputs.delete(output_name)  # never committed: not referenced
            raise
        self.outputs.delete(superseded)  # after the commit that dropped it
        return record

    def _replace_output(self, record: Image, values: dict[str, Any]) -> tuple[str | None, Image]:
        """Point the record at its new output atomically: (the name it replaced, the row).

        Compare and swap on the stored name: a concurrent `process` of the same image that
        committed first makes this one retry against the name it stored, so every superseded
        output is deleted by exactly one of them and none is orphaned.
        """
        image_id = record.id
        assert image_id is not None
        expected, expected_size = record.processed_name, record.processed_size_bytes or 0
        while True:
            try:
                swapped = images.replace_output(
                    self.session, image_id, expected, expected_size, values, self.quotas
                )
                if swapped:
                    self.session.commit()
                    break
                self.session.rollback()
                exists, expected, expected_size = images.current_output(self.session, image_id)
            except images.OverQuota:
                self.session.rollback()
                growth = values["processed_size_bytes"] - expected_size
                error = quotas.exceeded(
                    self.session, record.owner_id, self.quotas, stored_bytes=growth
                )
                self.session.close()
                raise error from None
            except BaseException:
                self.session.rollback()
                raise
            if not exists:  # deleted meanwhile
                raise ImageNotFound(f"image {image_id} does not exist")
        self.session.close()
        for name, value in values.items():  # the row as committed, without reading it back
            setattr(record, name, value)
        return expected, record

    def download(self, user: User, image_id: int) -> tuple[OpenedFile, str, str]:
        """(opened output, media type, download name) of the processed output.

        The file is opened here, before the response starts, so a `DELETE` or a new
        `process` from now on cannot cut the download short. An output that vanished between
        the lookup and the open (deleted or superseded) is looked up again.
        """
        for _attempt in range(3):
            record = owned_image(self.session, image_id, user)
            if record.processed_name is None or record.processed_format is None:
                raise ImageNotProcessed(f"image {image_id} has not been processed yet")
            opened = open_stored(self.outputs.path(record.processed_name))
            if opened is not None:
                media_type = MEDIA_TYPES[record.processed_format.upper()]
                stem = Path(record.filename).stem or "image"
                extension = {"jpeg": "jpg"}.get(record.processed_format, record.processed_format)
                return opened, media_type, f"{stem}-processed.{extension}"
            self.session.expunge(record)  # the next lookup reads the row as it is now
        raise ImageNotProcessed(f"the processed output of image {image_id} is missing")

    def delete(self, user: User, image_id: int) -> None:
        owned_image(self.session, image_id, user)
        # The names come from the DELETE itself, so an output a concurrent `process` swapped in
        # after the ownership check is the one removed (not the one this request had read).
        names = images.delete_returning(self.session, image_id, user.id)  # type: ignore[arg-type]
        self.session.commit()
        if names is None:  # a concurrent delete won
            raise ImageNotFound(f"image {image_id} does not exist")
        self.uploads.delete(names[0])
        self.outputs.delete(names[1])
