"""Measuring the project itself: load on the API, harness overhead, Pillow's limit.

- `server`: start the image service (uvicorn) on loopback in a subprocess of any
  interpreter, with its own database and data folder; stop it gracefully or SIGKILL it.
- `load`: a bounded httpx load client (upload -> process -> download) and the integrity
  check of the database and files afterwards.
- `limits`: the harness overhead of a sweep, the library's Pillow pipeline against Pillow
  called directly, the library's throughput at concurrency = cores.
- `measure`: runs all of it and returns the figures; `render`: writes them as markdown;
  `report`: both, into `reports/performance.md` (`make performance`).

The service is driven only over HTTP; its tables are read (never written) only through the
service's own repositories (`api.repositories`), so a schema change cannot silently break the
check. The library (`nogilbench`) never imports this package or `api`.
"""
