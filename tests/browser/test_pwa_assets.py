"""What makes the app installable and cacheable, checked without a browser."""
import gzip
import struct

from webapp.pwa import shell_version


def test_manifest_names_the_app_and_its_icons(client):
    response = client.get("/manifest.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = response.json
    assert manifest["start_url"] == "/" and manifest["scope"] == "/" and manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"] and manifest["theme_color"] and manifest["background_color"]
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as response:  # file responses hold the file open until closed
            png = response.get_data()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert f"{width}x{height}" == icon["sizes"]


def test_service_worker_is_served_from_the_root_uncached_with_its_shell_version(app, client):
    response = client.get("/sw.js")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.mimetype == "text/javascript"
    source = response.get_data(as_text=True)
    with app.test_request_context():
        assert f'"{shell_version()}"' in source
    assert '"/shell"' in source and '"/static/js/app.js"' in source
    assert "__SHELL" not in source


def test_pages_carry_the_manifest_and_ios_tags(client):
    html = client.get("/login").get_data(as_text=True)
    for needle in ('rel="manifest"', 'rel="apple-touch-icon"', 'name="apple-mobile-web-app-capable"', 'name="theme-color"'):
        assert needle in html


def test_app_pages_send_anonymous_visitors_to_log_in(client):
    response = client.get("/team")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/team")
    assert client.get("/shell").status_code == 200


def test_shell_files_are_gzipped_when_the_client_accepts_it(client):
    path = "/static/js/outbox-core.js"
    with client.get(path) as plain, client.get(path, headers={"Accept-Encoding": "gzip, br"}) as zipped:
        assert "Content-Encoding" not in plain.headers
        assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
        assert gzip.decompress(zipped.get_data()) == plain.get_data()
        etag = zipped.headers["ETag"]
    with client.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": etag}) as again:
        assert again.status_code == 304


def test_html_error_pages_render_for_unknown_pages(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Back to your plate" in response.get_data(as_text=True)
