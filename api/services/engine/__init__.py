"""The job engine past one process: Celery workers on a Redis broker (`JOB_ENGINE=celery`).

Web processes store a job `queued` and publish one message for it (`dispatch`); worker-only
processes (`python -m api.worker`) deliver it to `WorkerRuntime`, which claims the row and
runs it through the same `JobManager` code the embedded engine uses (`api.services.job_runner`).
Celery is imported only here and by the worker: the embedded default does not need it.
"""
