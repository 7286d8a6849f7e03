# The image service and its job workers: one image, three commands (compose.yaml).
#   web:     uvicorn api.main:app --host 0.0.0.0 --port 8000 --workers 2
#   worker:  python -m api.worker                 (batches; JOB_CONCURRENCY threads)
#   bench:   python -m api.worker --benchmarks    (this host's benchmarks, one at a time)
# A GIL build of CPython (the official image): the workers' `--pool prefork` uses every core
# there. On a free-threaded CPython use the default `--pool threads` (see README).
ARG PYTHON_IMAGE=python:3.13-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

# libpq: psycopg over the system library (the free-threaded build has no psycopg[binary]).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first (cached while only the code changes), then the code.
COPY pyproject.toml README.md ./
COPY nogilbench ./nogilbench
COPY api ./api
RUN pip install ".[api,postgres,engine,redis-limits]"

RUN useradd --create-home --uid 10001 app && mkdir -p /data && chown app:app /data
USER app
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]

CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
