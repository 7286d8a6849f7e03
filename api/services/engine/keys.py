"""The engine's own Redis keys beside the broker's lists (cancel flags, task ids)."""

from __future__ import annotations

CANCEL_TTL_S = 7 * 24 * 3600  # a flag outlives any message that could still name the job
TASK_IDS = "nogilbench:job-task"  # hash: job id -> the id of the Celery task that runs it


def cancel_key(job_id: int) -> str:
    return f"nogilbench:cancel:{job_id}"
