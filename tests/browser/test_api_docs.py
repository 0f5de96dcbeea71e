"""The API docs page (Swagger UI shipped with django-ninja) renders under the strict CSP."""

import pytest

pytestmark = pytest.mark.slow


def test_api_docs_render_without_csp_violations(signed_in, live_server):
    page = signed_in
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{live_server.url}/api/v1/docs")
    page.locator(".opblock-summary-path", has_text="/api/v1/broadcasts/{broadcast_id}/confirm").first.wait_for()
    assert page.locator(".opblock").count() >= 15
    assert violations == []
