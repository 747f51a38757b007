"""Configuration: defaults, then ``MAILBOT_*`` environment variables, then an explicit mapping."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from mailbot_sandbox.errors import ConfigError
from mailbot_sandbox.ids import is_well_formed_key
from mailbot_sandbox.mail.addresses import is_valid_domain

DOMAIN_POLICIES = ("auto", "strict")
CONSOLE_AUTH_MODES = ("open", "key")
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Config:
    """Everything a sandbox can be told at start-up.

    Build one with :func:`load_config`; every field is also a ``MAILBOT_<NAME>`` variable.
    """

    host: str = "127.0.0.1"
    port: int = 8025
    smtp_host: str | None = None  # defaults to ``host``
    smtp_port: int = 1025
    # SMTP over TLS from the first byte (implicit TLS, "SMTPS"); STARTTLS is on smtp_port.
    smtps_port: int = 1465
    # The certificate SMTP presents: both files given, or the sandbox's own CA makes one in
    # tls_dir (default: a "tls" folder next to the database).
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_dir: str | None = None
    tls_hostnames: tuple[str, ...] = field(default_factory=tuple)  # more names for the cert
    smtp_require_tls: bool = False  # MAIL and AUTH before STARTTLS are refused (530 5.7.0)
    db: str = ".mailbot-sandbox/mailbot.db"
    shared_domain: str = "mailbot.id"
    api_keys: tuple[str, ...] = field(default_factory=tuple)
    domain_policy: str = "auto"
    dns_server: str | None = None  # host[:port]; strict verification asks it instead of the table
    max_message_size: int = 25 * 1024 * 1024
    log_level: str = "info"
    log_format: str = "text"  # text for people, json (one object a line) for log collectors
    # Retention, 0 = off: prune messages older than this many days of the account's clock,
    # and keep only this many newest messages per inbox; checked every retention_interval s.
    retention_days: int = 0
    retention_max_messages: int = 0
    retention_interval: int = 60
    # Processes serving one database file; 0 = one per CPU (at most 4). A database in memory
    # lives in one process, so it always gets one.
    workers: int = 0
    # Requests served at once per process (a parked long-poll wait holds one: the contract's
    # 1,000 must fit), and requests that may wait for one; past both, a fast 503 server_busy.
    http_threads: int = 1500
    http_queue: int = 500
    # Webhook retries wait 30 s, 2 min, 10 min, 1 h, 6 h times this (0.001 in a test: ms);
    # each attempt gives the receiver webhook_timeout seconds to answer.
    webhook_retry_scale: float = 1.0
    webhook_timeout: float = 10.0
    # The local account: mail over plain SMTP to addresses outside the sandbox is captured in
    # the account of this key (``serve`` makes one when it is not given, and prints it).
    catch_all_key: str | None = None
    # After AUTH, the envelope sender and the From: address must be the logged-in inbox's;
    # off for apps that relay mail for other senders.
    smtp_sender_check: bool = True
    # The web console: open shows every account to whoever opens it (a local tool, as
    # Mailpit is); key asks for an API key and shows only its account. Strict keys imply key.
    console_auth: str = "open"
    # Where a recipient's mail client reaches this sandbox's HTTP side: the root of tracked
    # mail's pixel and links (default: http://host:port of the running sandbox).
    public_url: str | None = None
    # Reputation: an inbox is suspended when, over its sends of the last
    # reputation_window_days (at least reputation_min_sends of them), bounced or complained
    # messages pass these shares of the sent ones.
    reputation_bounce_rate: float = 0.10
    reputation_complaint_rate: float = 0.003
    reputation_min_sends: int = 20
    reputation_window_days: int = 7
    # Seconds between the ": ping" comments a live stream sends while no event flows, so
    # proxies and clients see the connection is alive (0.05 in a test).
    stream_heartbeat: float = 15.0

    @property
    def strict_keys(self) -> bool:
        """True when only the configured API keys are accepted."""
        return bool(self.api_keys)

    @property
    def console_needs_key(self) -> bool:
        """True when a person signs in to the console with an API key."""
        return self.console_auth == "key" or self.strict_keys

    @property
    def smtp_bind_host(self) -> str:
        return self.smtp_host or self.host


def _parse_int(name: str, low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
        return value

    return parse


def _parse_float(name: str, low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
        return value

    return parse


def _parse_keys(raw: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in raw.split(",") if key.strip())


def _parse_bool(name: str) -> Callable[[str], bool]:
    def parse(raw: str) -> bool:
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")

    return parse


_ENV_PARSERS: dict[str, Callable[[str], Any]] = {
    "host": str,
    "port": _parse_int("MAILBOT_PORT", 0, 65535),
    "smtp_host": str,
    "smtp_port": _parse_int("MAILBOT_SMTP_PORT", 0, 65535),
    "smtps_port": _parse_int("MAILBOT_SMTPS_PORT", 0, 65535),
    "tls_cert": str,
    "tls_key": str,
    "tls_dir": str,
    "tls_hostnames": _parse_keys,
    "smtp_require_tls": _parse_bool("MAILBOT_SMTP_REQUIRE_TLS"),
    "db": str,
    "shared_domain": str,
    "api_keys": _parse_keys,
    "domain_policy": str,
    "dns_server": str,
    "max_message_size": _parse_int("MAILBOT_MAX_MESSAGE_SIZE", 1024, 1024**3),
    "log_level": str,
    "log_format": str,
    "retention_days": _parse_int("MAILBOT_RETENTION_DAYS", 0, 36500),
    "retention_max_messages": _parse_int("MAILBOT_RETENTION_MAX_MESSAGES", 0, 10**9),
    "retention_interval": _parse_int("MAILBOT_RETENTION_INTERVAL", 1, 86400),
    "workers": _parse_int("MAILBOT_WORKERS", 0, 64),
    "http_threads": _parse_int("MAILBOT_HTTP_THREADS", 1, 100_000),
    "http_queue": _parse_int("MAILBOT_HTTP_QUEUE", 0, 1_000_000),
    "webhook_retry_scale": _parse_float("MAILBOT_WEBHOOK_RETRY_SCALE", 0, 1000),
    "webhook_timeout": _parse_float("MAILBOT_WEBHOOK_TIMEOUT", 0.01, 300),
    "catch_all_key": str,
    "smtp_sender_check": _parse_bool("MAILBOT_SMTP_SENDER_CHECK"),
    "console_auth": str,
    "public_url": str,
    "reputation_bounce_rate": _parse_float("MAILBOT_REPUTATION_BOUNCE_RATE", 0, 1),
    "reputation_complaint_rate": _parse_float("MAILBOT_REPUTATION_COMPLAINT_RATE", 0, 1),
    "reputation_min_sends": _parse_int("MAILBOT_REPUTATION_MIN_SENDS", 1, 10**9),
    "reputation_window_days": _parse_int("MAILBOT_REPUTATION_WINDOW_DAYS", 1, 3650),
    "stream_heartbeat": _parse_float("MAILBOT_STREAM_HEARTBEAT", 0.01, 3600),
}

# Number settings given in code: (low, high), checked like the env.
_FLOAT_RANGES = {
    "webhook_retry_scale": (0.0, 1000.0),
    "webhook_timeout": (0.01, 300.0),
    "reputation_bounce_rate": (0.0, 1.0),
    "reputation_complaint_rate": (0.0, 1.0),
    "stream_heartbeat": (0.01, 3600.0),
}

# Integer settings given in code or on the command line: (low, high), checked like the env.
_INT_RANGES = {
    "port": (0, 65535),
    "smtp_port": (0, 65535),
    "smtps_port": (0, 65535),
    "retention_days": (0, 36500),
    "retention_max_messages": (0, 10**9),
    "retention_interval": (1, 86400),
    "workers": (0, 64),
    "reputation_min_sends": (1, 10**9),
    "reputation_window_days": (1, 3650),
    "http_threads": (1, 100_000),
    "http_queue": (0, 1_000_000),
}


def _validate(config: Config) -> Config:
    if config.domain_policy not in DOMAIN_POLICIES:
        raise ConfigError(
            f"domain policy must be one of {', '.join(DOMAIN_POLICIES)}, "
            f"got {config.domain_policy!r}"
        )
    if config.console_auth not in CONSOLE_AUTH_MODES:
        raise ConfigError(
            f"console auth must be one of {', '.join(CONSOLE_AUTH_MODES)}, "
            f"got {config.console_auth!r}"
        )
    if not is_valid_domain(config.shared_domain):
        raise ConfigError(f"shared domain {config.shared_domain!r} is not a valid domain name")
    for name, (low, high) in _INT_RANGES.items():
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            what = "a port number" if name.endswith("port") else "a whole number"
            raise ConfigError(f"{name} must be {what} {low}-{high}, got {value!r}")
    for name, (low_f, high_f) in _FLOAT_RANGES.items():
        number = getattr(config, name)
        if not isinstance(number, int | float) or isinstance(number, bool):
            raise ConfigError(f"{name} must be a number {low_f:g}-{high_f:g}, got {number!r}")
        if not low_f <= number <= high_f:
            raise ConfigError(f"{name} must be a number {low_f:g}-{high_f:g}, got {number!r}")
    for name in config.tls_hostnames:
        if not (is_valid_domain(name) or _is_ip(name)):
            raise ConfigError(f"TLS host name {name!r} is neither a host name nor an IP address")
    if not isinstance(config.smtp_require_tls, bool):
        raise ConfigError(
            f"smtp_require_tls must be true or false, got {config.smtp_require_tls!r}"
        )
    for key in config.api_keys:
        if not is_well_formed_key(key):
            raise ConfigError(f"API key {key!r} is not of the form mb_<letters, digits, - or _>")
    if config.catch_all_key is not None and not is_well_formed_key(config.catch_all_key):
        raise ConfigError(
            f"catch-all key {config.catch_all_key!r} is not of the form "
            "mb_<letters, digits, - or _>"
        )
    if not isinstance(config.smtp_sender_check, bool):
        raise ConfigError(
            f"smtp_sender_check must be True or False, got {config.smtp_sender_check!r}"
        )
    if config.public_url is not None and not config.public_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"public URL must start with http:// or https://, got {config.public_url!r}"
        )
    if config.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(
            f"log level must be debug, info, warning or error, got {config.log_level!r}"
        )
    if config.log_format.lower() not in LOG_FORMATS:
        raise ConfigError(f"log format must be text or json, got {config.log_format!r}")
    return replace(
        config,
        shared_domain=config.shared_domain.lower(),
        log_level=config.log_level.lower(),
        log_format=config.log_format.lower(),
        public_url=config.public_url.rstrip("/") if config.public_url else None,
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def load_config(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Build a :class:`Config` from defaults, ``MAILBOT_*`` variables, then ``overrides``.

    Raises:
        ConfigError: a value is malformed; the message names the setting.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Config)}
    for name, parse in _ENV_PARSERS.items():
        raw = env.get(f"MAILBOT_{name.upper()}")
        if raw not in (None, ""):
            values[name] = parse(raw)
    for name, value in (overrides or {}).items():
        if name not in known:
            raise ConfigError(f"unknown setting {name!r}")
        if value is None:
            continue
        if name == "tls_hostnames" and isinstance(value, str):
            value = _parse_keys(value)  # "a.test,b.test", as on the command line
        elif name in ("api_keys", "tls_hostnames"):
            value = tuple(value)
        values[name] = value
    return _validate(Config(**values))
