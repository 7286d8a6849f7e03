"""The OpenAPI document as api.http.openapi adjusts it: what the upload documents."""

from __future__ import annotations


def test_upload_documents_no_400(client):
    responses = client.get("/openapi.json").json()["paths"]["/api/images/upload"]["post"]
    assert "400" not in responses["responses"] and "422" in responses["responses"]
