"""Hostile input the API must answer plainly: JSON nested past any request's shape, and
attachment names that are not Latin-1 or that look like paths."""

from __future__ import annotations

import base64

import pytest
import requests

from mailbot_sandbox import Sandbox
from tests.helpers import Api, send


def test_json_nested_past_the_parser_is_400_not_500(sandbox: Sandbox, api: Api) -> None:
    depth = 100_000
    body = '{"a":' * depth + "1" + "}" * depth
    response = requests.post(
        f"{sandbox.base_url}/v1/inboxes",
        data=body,
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "nested too deeply" in error["message"]


@pytest.mark.parametrize(
    ("filename", "disposition"),
    [
        (
            "résumé€.pdf",
            "attachment; filename=\"r_sum__.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%E2%82%AC.pdf",
        ),
        ("../../../etc/passwd", 'attachment; filename="passwd"'),
        ("..\\..\\boot.ini", 'attachment; filename="boot.ini"'),
        ('say "hi".txt', 'attachment; filename="say hi.txt"'),
    ],
    ids=["not-latin-1", "unix-path", "windows-path", "quotes"],
)
def test_attachment_download_names_the_file_safely(
    api: Api, filename: str, disposition: str
) -> None:
    sender, receiver = api.create_inbox(), api.create_inbox()
    payload = b"%PDF-1.4 \x00\xff"
    send(
        api,
        sender,
        to=receiver["address"],
        attachments=[
            {
                "filename": filename,
                "content_type": "application/pdf",
                "content": base64.b64encode(payload).decode(),
            }
        ],
    )
    got = api.get(f"/v1/inboxes/{receiver['id']}/messages").json()["data"][0]
    (attachment,) = got["attachments"]
    assert attachment["filename"] == filename  # stored and listed as the mail named it
    download = api.get(
        f"/v1/inboxes/{receiver['id']}/messages/{got['id']}/attachments/{attachment['id']}",
        timeout=5,
    )
    assert download.status_code == 200
    assert download.content == payload
    assert download.headers["Content-Disposition"] == disposition
