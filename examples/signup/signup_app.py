"""A small sign-up service, as an app under test would be written.

It talks to mailbot only through the published ``mailbot-sdk``, configured from the
environment (``MAILBOT_API_KEY``, ``MAILBOT_BASE_URL``), so the same code runs against the
hosted service or a sandbox. Two inboxes, two concerns: ``onboarding@yourdomain.com`` only
sends verification mail; ``support@yourdomain.com`` receives customers' questions and answers.
"""

from __future__ import annotations

import os
import secrets
from typing import Any
from urllib.parse import urljoin

from flask import Flask, abort, jsonify, request
from mailbot import MailBot

DOMAIN = "yourdomain.com"
INBOXES = {
    "onboarding": {
        "permissions": ["send"],
        "daily_send_limit": 500,
        "display_name": "Welcome Team",
    },
    "support": {
        "permissions": ["send", "receive", "search"],
        "daily_send_limit": 1000,
        "display_name": "Support",
    },
}


def ensure_inboxes(mailbot: MailBot) -> dict[str, dict[str, Any]]:
    """Find this app's inboxes, creating any that do not exist yet."""
    existing = {
        i["username"]: i
        for i in mailbot.inboxes.list(domain=DOMAIN, limit=100)["data"]
        if i["status"] == "active"
    }
    for username, settings in INBOXES.items():
        if username not in existing:
            existing[username] = mailbot.inboxes.create(
                username=username, domain=DOMAIN, **settings
            )
    return existing


def create_app() -> Flask:
    app = Flask(__name__)
    mailbot = MailBot(
        api_key=os.environ["MAILBOT_API_KEY"], base_url=os.environ["MAILBOT_BASE_URL"]
    )
    app.extensions["mailbot"] = mailbot  # one client for the app's life; close() at shutdown
    inboxes = ensure_inboxes(mailbot)
    pending: dict[str, tuple[str, str]] = {}  # token -> (email, code)
    verified: set[str] = set()

    @app.post("/signup")
    def signup() -> Any:
        email = request.form["email"]
        code = f"{secrets.randbelow(10**6):06d}"
        token = secrets.token_urlsafe(16)
        pending[token] = (email, code)
        link = urljoin(request.host_url, f"verify?token={token}")
        mailbot.messages.send(
            inboxes["onboarding"]["id"],
            to=[email],
            subject="Verify your email",
            body_text=f"Your code is {code}.\nOr confirm here: {link}\n",
            body_html=f'<p>Your code is <b>{code}</b>.</p><p><a href="{link}">Confirm your '
            "email</a></p>",
        )
        return jsonify(status="pending"), 202

    @app.get("/verify")
    def verify_link() -> Any:
        email, _ = pending.pop(request.args.get("token", ""), (None, None))
        if email is None:
            abort(404)
        verified.add(email)
        return jsonify(status="verified", email=email)

    @app.post("/verify-code")
    def verify_code() -> Any:
        for token, (email, code) in list(pending.items()):
            if email == request.form["email"] and code == request.form["code"]:
                del pending[token]
                verified.add(email)
                return jsonify(status="verified", email=email)
        return jsonify(status="wrong code"), 400

    @app.post("/support/answer")
    def answer_support() -> Any:
        """Reply once to every customer message the support inbox has not answered yet."""
        support = inboxes["support"]["id"]
        answered = 0
        for message in mailbot.messages.list(support, direction="inbound")["data"]:
            if "answered" in message["labels"]:
                continue
            mailbot.messages.reply(
                support,
                message["id"],
                body_text="Thanks for writing to us: a person will follow up within a day.",
            )
            mailbot.messages.update_labels(support, message["id"], ["answered"])
            answered += 1
        return jsonify(answered=answered)

    @app.get("/support/address")
    def support_address() -> Any:
        return jsonify(address=inboxes["support"]["address"])

    return app
