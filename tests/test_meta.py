"""Transport rules every route shares: health, info, auth, error envelope."""

from __future__ import annotations

import requests

from mailbot_sandbox import Sandbox, __version__


def test_health_is_public(sandbox: Sandbox) -> None:
    response = requests.get(f"{sandbox.base_url}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_info_names_the_server(sandbox: Sandbox) -> None:
    response = requests.get(f"{sandbox.api_url}/info", timeout=5)
    assert response.json() == {
        "data": {
            "name": "mailbot-sandbox",
            "version": __version__,
            "api_version": "v1",
            "sandbox": True,
        }
    }


def test_missing_key_is_401_with_error_envelope(sandbox: Sandbox) -> None:
    response = requests.get(f"{sandbox.api_url}/inboxes", timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert "Authorization" in response.json()["error"]["message"]


def test_key_without_mb_prefix_is_401(sandbox: Sandbox) -> None:
    for header in ("Bearer sk_live_123", "Basic mb_abc", "Bearer ", "mb_abc", "Bearer mb_a b"):
        response = requests.get(
            f"{sandbox.api_url}/inboxes", headers={"Authorization": header}, timeout=5
        )
        assert response.status_code == 401, header
        assert response.json()["error"]["code"] == "unauthorized"


def test_unknown_route_is_json_404(api) -> None:
    response = api.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_wrong_method_is_json_405_with_allow(api) -> None:
    response = api.put("/v1/inboxes")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_invalid_json_is_400(api) -> None:
    response = api.post(
        "/v1/inboxes", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_json_that_is_not_an_object_is_400(api) -> None:
    response = api.post("/v1/inboxes", json=["username", "a"])
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]["message"]


def test_wrong_content_type_is_400(api) -> None:
    response = api.post(
        "/v1/inboxes",
        data="username=a",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert "Content-Type" in response.json()["error"]["message"]


def test_empty_body_with_json_content_type_parses_as_empty_object(api) -> None:
    inbox = api.create_inbox()
    response = api.delete(
        f"/v1/inboxes/{inbox['id']}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "disabled"


def test_strict_mode_accepts_only_configured_keys() -> None:
    with Sandbox(api_keys=["mb_only_this"]) as strict:
        ok = requests.get(
            f"{strict.api_url}/inboxes", headers={"Authorization": "Bearer mb_only_this"}, timeout=5
        )
        other = requests.get(
            f"{strict.api_url}/inboxes", headers={"Authorization": "Bearer mb_another"}, timeout=5
        )
    assert ok.status_code == 200
    assert other.status_code == 401
    assert "unknown API key" in other.json()["error"]["message"]
