"""Search over the API: permission, operators, isolation, and no 500 for any query."""

from __future__ import annotations

import base64
import random

import pytest

from tests.helpers import Api, send


@pytest.fixture
def mailbox(api: Api) -> tuple[Api, dict, dict]:
    inbox = api.create_inbox(username="support")
    customer = api.create_inbox(username="customer")
    send(
        api,
        customer,
        to=inbox["address"],
        subject="Password reset request",
        body_text="Please reset my password",
    )
    send(
        api,
        customer,
        to=inbox["address"],
        subject="Invoice 2026-11",
        body_html="<p>Your <b>invoice</b> is attached</p>",
        attachments=[{"filename": "invoice.pdf", "content": base64.b64encode(b"%PDF").decode()}],
    )
    send(
        api,
        inbox,
        to="someone@example.com",
        subject="Weekly digest",
        body_text="Grüße from the support team",
    )
    return api, inbox, customer


def _search(api: Api, inbox: dict, query: str, **extra) -> list[str]:
    response = api.post(
        f"/v1/inboxes/{inbox['id']}/messages/search", json={"query": query, **extra}
    )
    assert response.status_code == 200, response.text
    return [m["subject"] for m in response.json()["data"]]


def test_words_are_anded_and_prefix_matched(mailbox) -> None:
    api, inbox, _ = mailbox
    assert _search(api, inbox, "reset passw") == ["Password reset request"]
    assert _search(api, inbox, "reset invoice") == []
    assert _search(api, inbox, "invoice") == ["Invoice 2026-11"]  # html body and subject
    assert _search(api, inbox, "gruße") == ["Weekly digest"]  # ü matches u: accents folded


def test_operators(mailbox) -> None:
    api, inbox, customer = mailbox
    assert _search(api, inbox, f"from:{customer['address']}") == [
        "Invoice 2026-11",
        "Password reset request",
    ]
    assert _search(api, inbox, "to:someone@example.com") == ["Weekly digest"]
    assert _search(api, inbox, 'subject:"reset request"') == ["Password reset request"]
    assert _search(api, inbox, "has:attachment") == ["Invoice 2026-11"]
    assert _search(api, inbox, "is:outbound") == ["Weekly digest"]
    assert _search(api, inbox, "is:inbound -invoice") == ["Password reset request"]
    assert _search(api, inbox, "after:2000-01-01 before:2999-01-01") == [
        "Weekly digest",
        "Invoice 2026-11",
        "Password reset request",
    ]


def test_label_operator_and_limit(mailbox) -> None:
    api, inbox, _ = mailbox
    message = api.get(f"/v1/inboxes/{inbox['id']}/messages").json()["data"][0]
    api.put(
        f"/v1/inboxes/{inbox['id']}/messages/{message['id']}/labels", json={"labels": ["triage"]}
    )
    assert _search(api, inbox, "label:triage") == [message["subject"]]
    response = api.post(
        f"/v1/inboxes/{inbox['id']}/messages/search", json={"query": "", "limit": 2}
    ).json()
    assert len(response["data"]) == 2 and response["meta"]["total"] == 3


def test_search_never_crosses_inboxes(mailbox) -> None:
    api, _, customer = mailbox
    assert _search(api, customer, "password") == ["Password reset request"]  # its own copy
    assert _search(api, customer, "digest") == []


def test_search_without_permission_is_403(api: Api) -> None:
    inbox = api.create_inbox(permissions=["send", "receive"])
    response = api.post(f"/v1/inboxes/{inbox['id']}/messages/search", json={"query": "x"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_bad_search_requests_are_400(mailbox) -> None:
    api, inbox, _ = mailbox
    for body in (
        {"query": 5},
        {"query": "x", "limit": 0},
        {"query": "x", "limit": "9"},
        {"query": "has:pets"},
        {"query": "before:someday"},
        {"q": "x"},
    ):
        response = api.post(f"/v1/inboxes/{inbox['id']}/messages/search", json=body)
        assert response.status_code == 400, body


def test_any_query_string_is_answered_without_a_server_error(mailbox) -> None:
    api, inbox, _ = mailbox
    rng = random.Random(7)
    alphabet = [
        *"\"'():-*^ \\%_;",
        "NEAR",
        "AND",
        "OR",
        "NOT",
        "from:",
        "to:",
        "subject:",
        "label:",
        "is:",
        "has:",
        "before:",
        "after:",
        "DROP TABLE",
        "ü",
        "日本",
        "\x00",
    ]
    for _ in range(200):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        response = api.post(f"/v1/inboxes/{inbox['id']}/messages/search", json={"query": query})
        assert response.status_code in (200, 400), (query, response.text)
    assert len(_search(api, inbox, "")) == 3  # store untouched


def test_a_restart_indexes_what_the_index_had_not_caught_up_on(tmp_path) -> None:
    from mailbot_sandbox.config import load_config
    from mailbot_sandbox.core.drafts import InjectedMail
    from mailbot_sandbox.core.inboxes import NewInbox
    from mailbot_sandbox.core.services import Services

    config = load_config({"db": str(tmp_path / "mail.db")}, environ={})
    first = Services(config)
    account = first.accounts.for_key("mb_restart_index")
    inbox = first.inboxes.create(account, NewInbox(username="box"))
    first.delivery.inject(
        account,
        inbox["id"],
        InjectedMail(subject="Quarterly zeppelin report", body_text="numbers"),
    )
    first.search_index.catch_up()
    with first.store.write() as db:  # as if the process stopped before the index caught up
        db.conn.execute("DELETE FROM messages_fts")
    first.close()
    again = Services(config)
    try:
        found, total = again.messages.search(account, inbox["id"], "zeppelin", 10)
    finally:
        again.close()
    assert total == 1 and found[0]["subject"] == "Quarterly zeppelin report"
