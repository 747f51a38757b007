"""The OpenAPI 3.1 description served at ``/v1/openapi.json``.

Routes are described here by hand; ``tests/test_openapi.py`` fails when this table and the
app's URL map disagree, so the description cannot drift from what the server answers.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from mailbot_sandbox import __version__

_S = dict[str, Any]


def _ref(name: str) -> _S:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: _S, required: tuple[str, ...] = ()) -> _S:
    schema: _S = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


STR: _S = {"type": "string"}
INT: _S = {"type": "integer"}
BOOL: _S = {"type": "boolean"}
TIME: _S = {"type": "string", "format": "date-time"}
STRS: _S = {"type": "array", "items": STR}

SCHEMAS: dict[str, _S] = {
    "Error": _obj(
        {
            "error": _obj(
                {"code": STR, "message": STR, "details": {"type": "object"}}, ("code", "message")
            )
        },
        ("error",),
    ),
    "Meta": _obj({"total": INT, "page": INT, "limit": INT, "per_page": INT}),
    "Inbox": _obj(
        {
            "id": STR,
            "account_id": STR,
            "address": STR,
            "username": STR,
            "display_name": {"type": ["string", "null"]},
            "domain": STR,
            "status": {"enum": ["active", "disabled", "suspended"]},
            "permissions": {"type": "array", "items": {"enum": ["send", "receive", "search"]}},
            "daily_send_limit": {"type": "integer", "minimum": 1, "maximum": 10000},
            "sends_today": INT,
            "created_at": TIME,
            "updated_at": TIME,
            "labels": STRS,
            "message_count": INT,
            "thread_count": INT,
        }
    ),
    "InboxCreate": _obj(
        {
            "username": {"type": "string", "pattern": "^[a-z0-9._-]{1,64}$"},
            "domain": STR,
            "display_name": STR,
            "daily_send_limit": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 250},
            "permissions": {
                "type": "array",
                "items": {"enum": ["send", "receive", "search"]},
                "minItems": 1,
            },
            "labels": STRS,
        },
        ("username",),
    ),
    "InboxUpdate": _obj(
        {
            "display_name": {"type": ["string", "null"]},
            "daily_send_limit": {"type": "integer", "minimum": 1, "maximum": 10000},
            "permissions": {"type": "array", "items": {"enum": ["send", "receive", "search"]}},
            "status": {"enum": ["active", "disabled", "suspended"]},
            "labels": STRS,
        }
    ),
    "DnsRecord": _obj(
        {
            "purpose": {"enum": ["spf", "dkim", "dmarc", "mx"]},
            "type": {"enum": ["TXT", "MX"]},
            "name": STR,
            "value": STR,
            "priority": INT,
            "required": BOOL,
            "status": {"enum": ["pending", "verified", "failed"]},
        }
    ),
    "Domain": _obj(
        {
            "id": STR,
            "account_id": STR,
            "domain": STR,
            "status": {"enum": ["pending", "verified", "failed"]},
            "dns_records": {"type": "array", "items": _ref("DnsRecord")},
            "created_at": TIME,
            "verified_at": {"type": ["string", "null"], "format": "date-time"},
        }
    ),
    "DomainCreate": _obj({"domain": STR}, ("domain",)),
    "Clock": _obj({"now": TIME, "offset_seconds": {"type": "number"}}),
    "ClockSet": _obj({"now": TIME, "offset_seconds": INT, "advance_seconds": INT}),
    "DnsPublish": _obj(
        {
            "records": {
                "type": "array",
                "items": _obj(
                    {"type": {"enum": ["TXT", "MX"]}, "name": STR, "value": STR, "priority": INT},
                    ("type", "name", "value"),
                ),
            }
        },
        ("records",),
    ),
    "Attachment": _obj({"id": STR, "filename": STR, "content_type": STR, "size": INT}),
    "Message": _obj(
        {
            "id": STR,
            "inbox_id": STR,
            "thread_id": STR,
            "message_id_header": STR,
            "from_address": STR,
            "from_name": {"type": ["string", "null"]},
            "to_addresses": STRS,
            "cc_addresses": STRS,
            "bcc_addresses": STRS,
            "reply_to": STRS,
            "subject": STR,
            "body_text": {"type": ["string", "null"]},
            "body_html": {"type": ["string", "null"]},
            "direction": {"enum": ["inbound", "outbound"]},
            "status": {"enum": ["sent", "delivered", "bounced", "complained", "received"]},
            "in_reply_to": {"type": ["string", "null"]},
            "references": STRS,
            "labels": STRS,
            "attachments": {"type": "array", "items": _ref("Attachment")},
            "size": INT,
            "created_at": TIME,
        }
    ),
    "AddressOrList": {"oneOf": [STR, STRS]},
    "Send": _obj(
        {
            "to": _ref("AddressOrList"),
            "cc": _ref("AddressOrList"),
            "bcc": _ref("AddressOrList"),
            "subject": STR,
            "body_text": STR,
            "body_html": STR,
            "reply_to": _ref("AddressOrList"),
            "headers": {"type": "object", "additionalProperties": STR},
            "attachments": {
                "type": "array",
                "items": _obj(
                    {
                        "filename": STR,
                        "content_type": STR,
                        "content": {"type": "string", "contentEncoding": "base64"},
                    },
                    ("filename", "content"),
                ),
            },
            "labels": STRS,
            "track_opens": BOOL,
            "track_clicks": BOOL,
        },
        ("to",),
    ),
    "SendWithInbox": {"allOf": [_ref("Send"), _obj({"inbox_id": STR}, ("inbox_id",))]},
    "Reply": _obj(
        {
            "body_text": STR,
            "body_html": STR,
            "cc": _ref("AddressOrList"),
            "bcc": _ref("AddressOrList"),
            "reply_all": BOOL,
            "labels": STRS,
            "headers": {"type": "object"},
            "attachments": {"type": "array"},
            "track_opens": BOOL,
            "track_clicks": BOOL,
        }
    ),
    "Search": _obj({"query": STR, "limit": {"type": "integer", "minimum": 1, "maximum": 100}}),
    "Labels": _obj({"labels": STRS}, ("labels",)),
    "Thread": _obj(
        {
            "id": STR,
            "inbox_id": STR,
            "subject": STR,
            "last_message_at": TIME,
            "message_count": INT,
            "labels": STRS,
            "participants": STRS,
            "created_at": TIME,
            "messages": {"type": "array", "items": _ref("Message")},
        }
    ),
    "Inject": _obj(
        {
            "raw": STR,
            "raw_base64": STR,
            "from": STR,
            "to": STR,
            "subject": STR,
            "body_text": STR,
            "body_html": STR,
            "headers": {"type": "object"},
        }
    ),
    "Captured": _obj(
        {
            "id": STR,
            "inbox_id": STR,
            "message_id": STR,
            "mail_from": STR,
            "recipients": STRS,
            "to_addresses": STRS,
            "cc_addresses": STRS,
            "subject": STR,
            "body_text": {"type": ["string", "null"]},
            "body_html": {"type": ["string", "null"]},
            "size": INT,
            "created_at": TIME,
        }
    ),
    "StatusSet": _obj({"status": {"enum": ["active", "disabled", "suspended"]}}, ("status",)),
}

# "METHOD path": (summary, request schema, response schema, response kind)
# kind: "one" -> {"data": X}, "list" -> {"data": [X], "meta"}, "raw" -> X as is
ROUTES: dict[str, tuple[str, str | None, str | None, str]] = {
    "GET /health": ("Liveness", None, None, "raw"),
    "GET /ready": ("Readiness: database, SMTP, not stopping (503 when not)", None, None, "raw"),
    "GET /metrics": ("Prometheus metrics (text exposition format)", None, None, "raw"),
    "GET /v1/info": ("Server name and version", None, None, "raw"),
    "GET /v1/openapi.json": ("This document", None, None, "raw"),
    "POST /v1/inboxes": ("Create an inbox", "InboxCreate", "Inbox", "one"),
    "GET /v1/inboxes": ("List inboxes (filters: status, domain)", None, "Inbox", "list"),
    "GET /v1/inboxes/{inbox_id}": ("Get an inbox", None, "Inbox", "one"),
    "PATCH /v1/inboxes/{inbox_id}": ("Change an inbox", "InboxUpdate", "Inbox", "one"),
    "DELETE /v1/inboxes/{inbox_id}": ("Disable an inbox", None, "Inbox", "one"),
    "POST /v1/domains": ("Register a domain", "DomainCreate", "Domain", "one"),
    "GET /v1/domains": ("List domains", None, "Domain", "list"),
    "GET /v1/domains/{domain_id}": ("Get a domain", None, "Domain", "one"),
    "POST /v1/domains/{domain_id}/verify": ("Check a domain's DNS records", None, "Domain", "one"),
    "DELETE /v1/domains/{domain_id}": (
        "Delete a domain no active inbox uses",
        None,
        "Domain",
        "one",
    ),
    "POST /v1/inboxes/{inbox_id}/messages": ("Send a message", "Send", "Message", "one"),
    "POST /v1/messages/send": (
        "Send a message (inbox_id in the body)",
        "SendWithInbox",
        "Message",
        "one",
    ),
    "GET /v1/inboxes/{inbox_id}/messages": (
        "List messages (filters: direction, thread_id, label, from_address, after, before)",
        None,
        "Message",
        "list",
    ),
    "GET /v1/inboxes/{inbox_id}/messages/wait": (
        "Wait for a message (direction, from_address, subject_contains, timeout_ms, after)",
        None,
        "Message",
        "one",
    ),
    "POST /v1/inboxes/{inbox_id}/messages/search": ("Search an inbox", "Search", "Message", "list"),
    "GET /v1/inboxes/{inbox_id}/messages/{message_id}": ("Get a message", None, "Message", "one"),
    "GET /v1/inboxes/{inbox_id}/messages/{message_id}/raw": (
        "The RFC 822 bytes",
        None,
        None,
        "raw",
    ),
    "GET /v1/inboxes/{inbox_id}/messages/{message_id}/attachments/{attachment_id}": (
        "An attachment's bytes",
        None,
        None,
        "raw",
    ),
    "PUT /v1/inboxes/{inbox_id}/messages/{message_id}/labels": (
        "Replace a message's labels",
        "Labels",
        "Message",
        "one",
    ),
    "POST /v1/inboxes/{inbox_id}/messages/{message_id}/reply": (
        "Reply to a message",
        "Reply",
        "Message",
        "one",
    ),
    "POST /v1/messages/{message_id}/reply": (
        "Reply to a message (any inbox)",
        "Reply",
        "Message",
        "one",
    ),
    "GET /v1/inboxes/{inbox_id}/threads": ("List threads", None, "Thread", "list"),
    "GET /v1/inboxes/{inbox_id}/threads/{thread_id}": (
        "Get a thread with its messages",
        None,
        "Thread",
        "one",
    ),
    "POST /sandbox/v1/inboxes/{inbox_id}/messages": (
        "Inject an inbound message",
        "Inject",
        "Message",
        "one",
    ),
    "GET /sandbox/v1/outbox": (
        "Captured external mail (filters: to, inbox_id)",
        None,
        "Captured",
        "list",
    ),
    "GET /sandbox/v1/outbox/{captured_id}": ("One captured message", None, "Captured", "one"),
    "GET /sandbox/v1/outbox/{captured_id}/raw": ("A captured message's bytes", None, None, "raw"),
    "DELETE /sandbox/v1/inboxes/{inbox_id}": ("Erase an inbox and its mail", None, None, "one"),
    "POST /sandbox/v1/reset": ("Erase everything of this account", None, None, "one"),
    "GET /sandbox/v1/clock": ("This account's clock", None, "Clock", "one"),
    "POST /sandbox/v1/clock": ("Move this account's clock", "ClockSet", "Clock", "one"),
    "GET /sandbox/v1/dns": ("DNS records published for strict verification", None, None, "one"),
    "POST /sandbox/v1/dns": ("Publish DNS records", "DnsPublish", None, "one"),
    "DELETE /sandbox/v1/dns": ("Remove this account's DNS records", None, None, "one"),
    "POST /sandbox/v1/inboxes/{inbox_id}/status": (
        "Set an inbox's status",
        "StatusSet",
        "Inbox",
        "one",
    ),
}

_ERRORS = {"400": "Invalid request", "401": "Missing or unknown API key", "404": "Not found"}


def _operation(key: str) -> _S:
    summary, request_schema, response_schema, kind = ROUTES[key]
    method, path = key.split(" ", 1)
    item: _S | None = _ref(response_schema) if response_schema else None
    if kind == "list":
        body: _S = _obj({"data": {"type": "array", "items": item or {}}, "meta": _ref("Meta")})
    elif kind == "one":
        body = _obj({"data": item or {}})
    else:
        body = {"type": "object"}
    created = ("Create", "Register", "Publish", "Send", "Reply", "Inject")
    ok = "201" if method == "POST" and summary.split()[0] in created else "200"
    operation: _S = {
        "summary": summary,
        "operationId": f"{method.lower()}_{path.strip('/').replace('/', '_')}".replace("{", "")
        .replace("}", "")
        .replace(".", "_"),
        "responses": {
            ok: {"description": "OK", "content": {"application/json": {"schema": body}}},
            **{
                code: {
                    "description": text,
                    "content": {"application/json": {"schema": _ref("Error")}},
                }
                for code, text in _ERRORS.items()
            },
        },
    }
    params = [
        {"name": name[1:-1], "in": "path", "required": True, "schema": STR}
        for name in path.split("/")
        if name.startswith("{")
    ]
    if params:
        operation["parameters"] = params
    if request_schema:
        operation["requestBody"] = {
            "content": {"application/json": {"schema": _ref(request_schema)}}
        }
    if path.startswith(("/v1/", "/sandbox/")) and path not in ("/v1/info", "/v1/openapi.json"):
        operation["security"] = [{"bearer": []}]
    return operation


def build_spec(app: Flask | None = None) -> _S:
    """The whole OpenAPI document."""
    paths: dict[str, _S] = {}
    for key in ROUTES:
        method, path = key.split(" ", 1)
        paths.setdefault(path, {})[method.lower()] = _operation(key)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mailbot-sandbox",
            "version": __version__,
            "description": "The mailbot v1 API as served by mailbot-sandbox, plus its "
            "/sandbox/v1 control plane.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "mb_..."}
            },
        },
    }
