"""Measuring the project itself: load on the API, harness overhead, Pillow's limit.

- `server`: start the image service (uvicorn) on loopback in a subprocess of any
  interpreter, with its own database and data folder; stop it gracefully or SIGKILL it.
- `load`: a bounded httpx load client (upload -> process -> download) and the integrity
  check of the database and files afterwards.
- `limits`: the harness overhead of a sweep, the library's Pillow pipeline against Pillow
  called directly, the library's throughput at concurrency = cores.
- `report`: runs all of it and writes `reports/performance.md` (`make performance`).

The service is reached only over HTTP and its tables only through SQL: this package does
not import `api` (the library's dependency direction stays one way).
"""
