"""Image CRUD, processing through the library's pipeline, ownership and 404s."""

from __future__ import annotations

import io

from PIL import Image

from api.services.images import display_name
from tests.support.api import assert_envelope, upload
from tests.support.images import image_bytes


class TestUpload:
    def test_upload_image(self, client, auth_headers):
        response = upload(client, auth_headers, image_bytes((64, 48)))
        assert response.status_code == 201
        body = response.json()
        assert body["id"] > 0
        assert (body["width"], body["height"], body["source_format"]) == (64, 48, "PNG")
        assert body["status"] == "uploaded" and body["content_type"] == "image/png"

    def test_client_filename_never_names_the_file(self, client, app, auth_headers):
        response = upload(client, auth_headers, filename="../../etc/passwd.png")
        assert response.status_code == 201
        assert response.json()["filename"] == "passwd.png"
        stored = list(app.state.services.settings.uploads_dir.iterdir())
        assert len(stored) == 1 and "passwd" not in stored[0].name

    def test_format_comes_from_the_bytes_not_the_name(self, client, auth_headers):
        jpeg = image_bytes(fmt="JPEG")
        response = upload(client, auth_headers, jpeg, filename="lies.png", content_type="image/png")
        assert response.status_code == 201
        assert response.json()["source_format"] == "JPEG"


def test_display_name_is_harmless():
    assert display_name("..\\..\\windows\\evil\x00\n.exe") == "evil.exe"
    assert display_name("") == "upload"
    assert len(display_name("a" * 1000)) == 255


class TestListAndGet:
    def test_list_images(self, client, auth_headers):
        for _ in range(3):
            upload(client, auth_headers)
        response = client.get("/api/images/", headers=auth_headers)
        assert response.status_code == 200
        ids = [image["id"] for image in response.json()]
        assert len(ids) == 3 and ids == sorted(ids, reverse=True)
        paged = client.get("/api/images/?limit=1&offset=1", headers=auth_headers).json()
        assert [image["id"] for image in paged] == ids[1:2]

    def test_a_deleted_image_id_is_never_reused(self, client, auth_headers):
        # SQLite hands out the largest id plus one unless the table is AUTOINCREMENT (0004):
        # the newest image's id went to the next upload, and the old id read the new image.
        first = upload(client, auth_headers).json()["id"]
        assert client.delete(f"/api/images/{first}", headers=auth_headers).status_code == 204
        second = upload(client, auth_headers).json()["id"]
        assert second > first
        assert_envelope(
            client.get(f"/api/images/{first}", headers=auth_headers), 404, "IMAGE_NOT_FOUND"
        )

    def test_get_image(self, client, auth_headers, uploaded):
        response = client.get(f"/api/images/{uploaded['id']}", headers=auth_headers)
        assert response.status_code == 200
        assert response.json() == uploaded


class TestProcess:
    def test_process_image(self, client, auth_headers, uploaded):
        pipeline = {"operations": [{"op": "grayscale"}], "format": "webp", "quality": 80}
        response = client.post(
            f"/api/images/{uploaded['id']}/process", json=pipeline, headers=auth_headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "processed" and body["processed_format"] == "webp"
        assert body["pipeline"] == {
            "operations": [{"op": "grayscale"}],
            "format": "webp",
            "quality": 80,
        }
        download = client.get(f"/api/images/{uploaded['id']}/download", headers=auth_headers)
        assert download.status_code == 200
        assert download.headers["content-type"] == "image/webp"
        result = Image.open(io.BytesIO(download.content))
        assert result.format == "WEBP"

    def test_resize(self, client, auth_headers, uploaded):
        pipeline = {
            "operations": [{"op": "resize", "width": 32, "height": 10, "keep_aspect": False}],
            "format": "png",
        }
        body = client.post(
            f"/api/images/{uploaded['id']}/process", json=pipeline, headers=auth_headers
        ).json()
        assert (body["processed_width"], body["processed_height"]) == (32, 10)
        image = Image.open(
            io.BytesIO(
                client.get(f"/api/images/{uploaded['id']}/download", headers=auth_headers).content
            )
        )
        assert image.size == (32, 10)

    def test_blur_and_grayscale_chain(self, client, auth_headers, uploaded):
        pipeline = {
            "operations": [{"op": "blur", "radius": 1.5}, {"op": "grayscale"}],
            "format": "png",
        }
        response = client.post(
            f"/api/images/{uploaded['id']}/process", json=pipeline, headers=auth_headers
        )
        assert response.status_code == 200
        image = Image.open(
            io.BytesIO(
                client.get(f"/api/images/{uploaded['id']}/download", headers=auth_headers).content
            )
        )
        assert image.mode == "L" and image.size == (64, 48)

    def test_metadata_is_stripped(self, client, auth_headers):
        exif = Image.Exif()
        exif[0x010F] = "SecretCameraMaker"  # Make
        exif[0x0131] = "GPS-leaking-software"  # Software
        data = image_bytes((64, 48), fmt="JPEG", exif=exif.tobytes())
        assert b"SecretCameraMaker" in data
        image_id = upload(client, auth_headers, data, "photo.jpg", "image/jpeg").json()["id"]
        client.post(
            f"/api/images/{image_id}/process",
            json={"operations": [{"op": "rotate", "angle": 0}], "format": "jpeg"},
            headers=auth_headers,
        )
        output = client.get(f"/api/images/{image_id}/download", headers=auth_headers).content
        assert b"SecretCameraMaker" not in output and b"GPS-leaking" not in output
        assert not Image.open(io.BytesIO(output)).getexif()

    def test_download_not_processed(self, client, auth_headers, uploaded):
        response = client.get(f"/api/images/{uploaded['id']}/download", headers=auth_headers)
        assert_envelope(response, 409, "IMAGE_NOT_PROCESSED")

    def test_invalid_operation(self, client, auth_headers, uploaded):
        response = client.post(
            f"/api/images/{uploaded['id']}/process",
            json={"operations": [{"op": "explode"}]},
            headers=auth_headers,
        )
        body = assert_envelope(response, 400, "INVALID_OPERATION")
        assert body["details"] == [{"field": "op"}]

    def test_parameter_out_of_bounds(self, client, auth_headers, uploaded):
        response = client.post(
            f"/api/images/{uploaded['id']}/process",
            json={"operations": [{"op": "resize", "width": 100000, "height": 10}]},
            headers=auth_headers,
        )
        body = assert_envelope(response, 400, "INVALID_OPERATION")
        assert body["details"] == [{"field": "resize.width"}]

    def test_pipeline_must_be_an_object(self, client, auth_headers, uploaded):
        response = client.post(
            f"/api/images/{uploaded['id']}/process", json=[1, 2], headers=auth_headers
        )
        assert_envelope(response, 422, "VALIDATION_ERROR")


class TestDelete:
    def test_delete_image(self, client, app, auth_headers, uploaded):
        client.post(
            f"/api/images/{uploaded['id']}/process",
            json={"operations": [{"op": "grayscale"}]},
            headers=auth_headers,
        )
        response = client.delete(f"/api/images/{uploaded['id']}", headers=auth_headers)
        assert response.status_code == 204
        missing = client.get(f"/api/images/{uploaded['id']}", headers=auth_headers)
        assert_envelope(missing, 404, "IMAGE_NOT_FOUND")
        settings = app.state.services.settings
        assert not any(settings.uploads_dir.iterdir()) and not any(settings.outputs_dir.iterdir())


class TestAuthRequired:
    def test_list_without_token(self, client):
        assert_envelope(client.get("/api/images/"), 401, "INVALID_TOKEN")

    def test_upload_without_token(self, client):
        assert_envelope(upload(client, {}), 401, "INVALID_TOKEN")


class TestOwnership:
    def test_access_other_user_image(self, client, other_headers, uploaded):
        response = client.get(f"/api/images/{uploaded['id']}", headers=other_headers)
        assert_envelope(response, 403, "FORBIDDEN")

    def test_process_other_user_image(self, client, other_headers, uploaded):
        response = client.post(
            f"/api/images/{uploaded['id']}/process",
            json={"operations": [{"op": "grayscale"}]},
            headers=other_headers,
        )
        assert_envelope(response, 403, "FORBIDDEN")

    def test_download_other_user_image(self, client, auth_headers, other_headers, uploaded):
        client.post(
            f"/api/images/{uploaded['id']}/process",
            json={"operations": [{"op": "grayscale"}]},
            headers=auth_headers,
        )
        response = client.get(f"/api/images/{uploaded['id']}/download", headers=other_headers)
        assert_envelope(response, 403, "FORBIDDEN")

    def test_delete_other_user_image(self, client, auth_headers, other_headers, uploaded):
        response = client.delete(f"/api/images/{uploaded['id']}", headers=other_headers)
        assert_envelope(response, 403, "FORBIDDEN")
        assert client.get(f"/api/images/{uploaded['id']}", headers=auth_headers).status_code == 200

    def test_other_user_list_is_empty(self, client, other_headers, uploaded):
        response = client.get("/api/images/", headers=other_headers)
        assert response.status_code == 200 and response.json() == []

    def test_image_not_found(self, client, auth_headers):
        assert_envelope(
            client.get("/api/images/99999", headers=auth_headers), 404, "IMAGE_NOT_FOUND"
        )
        response = client.post(
            "/api/images/99999/process",
            json={"operations": [{"op": "grayscale"}]},
            headers=auth_headers,
        )
        assert_envelope(response, 404, "IMAGE_NOT_FOUND")
        assert_envelope(
            client.delete("/api/images/99999", headers=auth_headers), 404, "IMAGE_NOT_FOUND"
        )

    def test_non_integer_id_matches_no_route(self, client, auth_headers):
        assert_envelope(client.get("/api/images/abc", headers=auth_headers), 404, "NOT_FOUND")
