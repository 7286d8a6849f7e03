"""Per-user quotas as the client sees them: 429 QUOTA_EXCEEDED saying which one, and by how much.

The counters live in `api.repositories.usage`; what is kept is counted in the transaction
that keeps it (a conditional UPDATE), which is what enforces a quota. `precheck` is only an
early refusal before costly work (decoding, encoding), read from the same counters.
"""

from __future__ import annotations

from sqlmodel import Session

from api.core.errors import QuotaExceeded
from api.repositories import usage
from api.repositories.usage import Quotas


def exceeded(
    session: Session,
    user_id: int,
    quotas: Quotas,
    *,
    images: int = 0,
    stored_bytes: int = 0,
    active_jobs: int = 0,
) -> QuotaExceeded:
    """The error for adding these amounts, worded after the first quota they would pass."""
    now = usage.get(session, user_id)
    if active_jobs > 0 and now.active_jobs + active_jobs > quotas.active_jobs:
        return QuotaExceeded(
            f"you have {now.active_jobs} queued or running job(s), the most allowed; wait for "
            "one to finish or cancel it (DELETE /api/jobs/{id})"
        )
    if images > 0 and now.images + images > quotas.images:
        return QuotaExceeded(f"you keep {now.images} images, the most allowed; delete some first")
    return QuotaExceeded(
        f"you keep {now.stored_bytes:,} bytes of images and outputs; {stored_bytes:,} more "
        f"would pass the quota of {quotas.stored_bytes:,} bytes; delete some first"
    )


def precheck(
    session: Session, user_id: int, quotas: Quotas, *, images: int = 0, stored_bytes: int = 0
) -> None:
    """QuotaExceeded if the amounts do not fit now (before work that would be wasted)."""
    now = usage.get(session, user_id)
    over_images = images > 0 and now.images + images > quotas.images
    over_bytes = stored_bytes > 0 and now.stored_bytes + stored_bytes > quotas.stored_bytes
    if over_images or over_bytes:
        raise exceeded(session, user_id, quotas, images=images, stored_bytes=stored_bytes)
