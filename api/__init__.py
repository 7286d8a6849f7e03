"""The nogilbench image service (FastAPI): `uvicorn api.main:app`."""
