"""A Flask app that mails through Flask-Mail, configured from the environment as in
production; in tests the ``mailbot_env`` fixture points it at the sandbox."""

from __future__ import annotations

import os

from flask import Flask, request
from flask_mail import Mail, Message


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        MAIL_SERVER=os.environ.get("MAILBOT_SMTP_HOST", "smtp.mail-provider.example"),
        MAIL_PORT=int(os.environ.get("MAILBOT_SMTP_PORT", "587")),
        MAIL_USE_TLS=os.environ.get("MAIL_USE_TLS", "") == "1",
        MAIL_USERNAME=os.environ.get("MAIL_USERNAME") or None,
        MAIL_PASSWORD=os.environ.get("MAIL_PASSWORD") or None,
        MAIL_DEFAULT_SENDER=("Shop", "orders@shop.example"),
    )
    mail = Mail(app)

    @app.post("/orders")
    def place_order() -> dict[str, str]:
        email = request.form["email"]
        message = Message("Your order is confirmed", recipients=[email])
        message.body = "Order 1042: 2 items, 31.50 EUR."
        message.attach("order-1042.txt", "text/plain", b"2 x tea, 31.50 EUR")
        mail.send(message)
        return {"status": "confirmed"}

    return app
