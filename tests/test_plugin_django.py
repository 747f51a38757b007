"""``mailbot_django_email`` as Django users meet it: real ``send_mail`` calls through Django's
SMTP backend in inner pytest-django runs (pytester, each in a process of its own: a configured
Django would otherwise follow every later test of this run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import plugin_options, serving

pytest.importorskip("pytest_django")

pytest_plugins = ["pytester"]

SETTINGS = """
SECRET_KEY = "test-only"
INSTALLED_APPS = []
DATABASES = {}
USE_TZ = True
# Production's mail server, as an app's settings have it: the fixture replaces all of it.
EMAIL_HOST = "smtp.mail-provider.example"
EMAIL_PORT = 587
EMAIL_USE_TLS = True
EMAIL_TIMEOUT = 10  # a stalled connection fails the inner test instead of hanging it
"""

INI = """
[pytest]
DJANGO_SETTINGS_MODULE = shop_settings
pythonpath = .
filterwarnings = error
"""

REQUIRE_TLS = """
import pytest

@pytest.fixture(scope="session")
def mailbot_sandbox_settings():
    return {"smtp_require_tls": True}  # mail before STARTTLS is refused: 530 5.7.0
"""

# Against a sandbox that requires TLS, mail that arrives came over TLS.
OVER_TLS = """
import smtplib
import ssl

import pytest
from django.core.mail import get_connection, send_mail


def test_starttls_with_verification_is_the_default(mailbot_django_email, inbox, settings):
    assert mailbot_django_email.security == "starttls"
    assert settings.EMAIL_USE_TLS and not settings.EMAIL_USE_SSL
    assert send_mail("over STARTTLS", "hi", "app@example.com", [inbox.address]) == 1
    inbox.assert_received(subject_contains="over STARTTLS")


def test_implicit_tls_on_the_smtps_port(mailbot_django_email, mailbot_sandbox, inbox, settings):
    mailbot_django_email.use("ssl")
    assert settings.EMAIL_PORT == mailbot_sandbox.smtps_port
    assert send_mail("over SMTPS", "hi", "app@example.com", [inbox.address]) == 1
    inbox.assert_received(subject_contains="over SMTPS")


def test_logged_in_over_starttls(mailbot_django_email, mailbot_inbox, settings):
    noreply = mailbot_inbox(username="noreply", domain="shop.example", permissions=["send"])
    customer = mailbot_inbox()
    mailbot_django_email.login_as(noreply)
    settings.DEFAULT_FROM_EMAIL = noreply.address
    assert send_mail("Receipt", "Thanks", None, [customer.address]) == 1
    customer.assert_received(subject_contains="Receipt")


def test_plain_is_refused_when_the_sandbox_requires_tls(mailbot_django_email, inbox):
    mailbot_django_email.use("plain")
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send_mail("plain", "hi", "app@example.com", [inbox.address])
    assert refused.value.smtp_code == 530


def test_the_certificate_is_really_checked(mailbot_django_email, inbox):
    stock = get_connection("django.core.mail.backends.smtp.EmailBackend")  # system CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        send_mail("unverified", "hi", "app@example.com", [inbox.address], connection=stock)


def test_an_unknown_mode_is_named(mailbot_django_email):
    with pytest.raises(ValueError, match="takes one of plain, starttls, ssl, got 'tls'"):
        mailbot_django_email.use("tls")
"""

PLAIN = """
from django.core.mail import send_mail


def test_plain_smtp_when_asked(mailbot_django_email, inbox, settings):
    mailbot_django_email.use("plain")
    assert not settings.EMAIL_USE_TLS and not settings.EMAIL_USE_SSL
    assert send_mail("plain", "hi", "app@example.com", [inbox.address]) == 1
    inbox.assert_received(subject_contains="plain")


def test_settings_come_back_after_the_test(settings):
    assert settings.EMAIL_HOST == "smtp.mail-provider.example"
    assert settings.EMAIL_BACKEND != "pytest_mailbot.djangomail.SandboxEmailBackend"
"""


@pytest.fixture
def django_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(shop_settings=SETTINGS)
    pytester.makeini(INI)
    return pytester


def test_every_tls_mode_against_a_sandbox_that_requires_tls(
    django_project: pytest.Pytester,
) -> None:
    django_project.makeconftest(REQUIRE_TLS)
    django_project.makepyfile(test_inner_django=OVER_TLS)
    result = django_project.runpytest_subprocess("-p", "no:randomly", "-p", "no:xdist", timeout=180)
    result.assert_outcomes(passed=6)


def test_plain_mode_against_a_sandbox_that_takes_plain_smtp(
    django_project: pytest.Pytester,
) -> None:
    django_project.makepyfile(test_inner_django=PLAIN)
    result = django_project.runpytest_subprocess("-p", "no:randomly", "-p", "no:xdist", timeout=180)
    result.assert_outcomes(passed=2)


EXTERNAL = """
import smtplib

import pytest
from django.core.mail import send_mail


def test_starttls_verified_with_the_fetched_ca(mailbot_django_email, mailbot_sandbox, inbox):
    assert mailbot_sandbox.external and mailbot_sandbox.ca_file
    assert send_mail("over STARTTLS", "hi", "app@example.com", [inbox.address]) == 1
    inbox.assert_received(subject_contains="over STARTTLS")


def test_implicit_tls(mailbot_django_email, inbox):
    mailbot_django_email.use("ssl")
    assert send_mail("over SMTPS", "hi", "app@example.com", [inbox.address]) == 1
    inbox.assert_received(subject_contains="over SMTPS")


def test_plain_is_refused(mailbot_django_email, inbox):
    mailbot_django_email.use("plain")
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send_mail("plain", "hi", "app@example.com", [inbox.address])
    assert refused.value.smtp_code == 530
"""


def test_an_external_sandbox_that_requires_tls(
    django_project: pytest.Pytester, tmp_path: Path
) -> None:
    with serving(tmp_path / "mail.db", "--smtp-require-tls") as served:
        django_project.makepyfile(test_inner_django=EXTERNAL)
        result = django_project.runpytest_subprocess(
            "-p", "no:randomly", "-p", "no:xdist", *plugin_options(served), timeout=180
        )
    result.assert_outcomes(passed=3)
