"""Settings of a tiny shop, as it runs in production: SMTP with TLS to a real mail server.

The tests change none of this by hand: the ``mailbot_django_email`` fixture points the email
settings at the sandbox for each test.
"""

from __future__ import annotations

SECRET_KEY = "example-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
INSTALLED_APPS: list[str] = []
ROOT_URLCONF = "shop.urls"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

DEFAULT_FROM_EMAIL = "Shop <noreply@shop.example>"
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "smtp.mail-provider.example"
EMAIL_PORT = 587
EMAIL_USE_TLS = True
EMAIL_HOST_USER = "shop"
EMAIL_HOST_PASSWORD = "from-the-environment"
