"""The view under test: a sign-up that mails a welcome code."""

from __future__ import annotations

import secrets

from django.core.mail import send_mail
from django.http import HttpRequest, JsonResponse


def signup(request: HttpRequest) -> JsonResponse:
    """``POST /signup`` with ``email``: mails a six-digit code to that address."""
    email = request.POST.get("email", "")
    if "@" not in email:
        return JsonResponse({"error": "give an email address"}, status=400)
    code = f"{secrets.randbelow(10**6):06d}"
    send_mail("Welcome to the shop", f"Your code is {code}.", None, [email])
    return JsonResponse({"status": "sent"})
