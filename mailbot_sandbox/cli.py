"""``mailbot-sandbox``: the command line."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mailbot_sandbox import __version__
from mailbot_sandbox.config import (
    CONSOLE_AUTH_MODES,
    DOMAIN_POLICIES,
    LOG_FORMATS,
    LOG_LEVELS,
    load_config,
)
from mailbot_sandbox.errors import ConfigError, SandboxError
from mailbot_sandbox.runtime.logs import configure_logging

if TYPE_CHECKING:
    from mailbot_sandbox.core.services import Services


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and exit status 2) like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mailbot-sandbox",
        description="A local stand-in for the mailbot programmable-inbox API.",
    )
    parser.add_argument("--version", action="version", version=f"mailbot-sandbox {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the HTTP API and the SMTP sink",
        description="Run the sandbox. Every option can also be set as a MAILBOT_* variable.",
    )
    serve.add_argument("--host", help="address to bind (MAILBOT_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port, 0 for any (MAILBOT_PORT, default 8025)")
    serve.add_argument("--smtp-host", help="SMTP bind address (MAILBOT_SMTP_HOST, default --host)")
    serve.add_argument(
        "--smtp-port", type=int, help="SMTP port, 0 for any (MAILBOT_SMTP_PORT, default 1025)"
    )
    serve.add_argument(
        "--smtps-port",
        type=int,
        help="SMTP with TLS from the first byte (implicit TLS), 0 for any "
        "(MAILBOT_SMTPS_PORT, default 1465)",
    )
    serve.add_argument(
        "--smtp-require-tls",
        action="store_true",
        default=None,
        help="refuse MAIL and AUTH until the client has sent STARTTLS (MAILBOT_SMTP_REQUIRE_TLS)",
    )
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="PEM certificate (chain) for SMTP TLS, with --tls-key; default: one made by the "
        "sandbox's own CA (MAILBOT_TLS_CERT)",
    )
    serve.add_argument("--tls-key", metavar="FILE", help="its PEM private key (MAILBOT_TLS_KEY)")
    serve.add_argument(
        "--tls-dir",
        metavar="DIR",
        help="where the sandbox CA and its certificate are kept (MAILBOT_TLS_DIR, default: "
        "a tls folder next to the database)",
    )
    serve.add_argument(
        "--tls-hostname",
        action="append",
        dest="tls_hostnames",
        metavar="NAME",
        help="another host name or IP address for the certificate; repeat for more "
        "(MAILBOT_TLS_HOSTNAMES, comma-separated)",
    )
    serve.add_argument(
        "--db", help="SQLite file or :memory: (MAILBOT_DB, default .mailbot-sandbox/mailbot.db)"
    )
    serve.add_argument(
        "--shared-domain",
        help="shared development domain (MAILBOT_SHARED_DOMAIN, default mailbot.id)",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only this key; repeat for more (MAILBOT_API_KEYS, "
        "comma-separated). Without it any mb_ key is accepted",
    )
    serve.add_argument(
        "--domain-policy",
        choices=DOMAIN_POLICIES,
        help="auto registers unknown domains, strict requires verification "
        "(MAILBOT_DOMAIN_POLICY, default auto)",
    )
    serve.add_argument(
        "--console-auth",
        choices=CONSOLE_AUTH_MODES,
        help="open shows every account in the web console, key asks for an API key and "
        "shows only its account (MAILBOT_CONSOLE_AUTH, default open; always key with --api-key)",
    )
    serve.add_argument(
        "--dns-server",
        metavar="HOST[:PORT]",
        help="verify domains against this DNS server (MAILBOT_DNS_SERVER)",
    )
    serve.add_argument(
        "--max-message-size",
        type=int,
        metavar="BYTES",
        help="largest accepted message (MAILBOT_MAX_MESSAGE_SIZE, default 25 MiB)",
    )
    serve.add_argument("--log-level", choices=LOG_LEVELS, help="(MAILBOT_LOG_LEVEL, default info)")
    serve.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="json writes one object a line (MAILBOT_LOG_FORMAT, default text)",
    )
    serve.add_argument(
        "--retention-days",
        type=int,
        metavar="DAYS",
        help="prune messages older than this; 0 keeps them (MAILBOT_RETENTION_DAYS, default 0)",
    )
    serve.add_argument(
        "--retention-max-messages",
        type=int,
        metavar="N",
        help="keep only the newest N messages per inbox; 0 keeps all "
        "(MAILBOT_RETENTION_MAX_MESSAGES, default 0)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes serving the database file; 0 = one per CPU, at most 4 "
        "(MAILBOT_WORKERS, default 0; always 1 with --db :memory:)",
    )
    serve.add_argument(
        "--http-threads",
        type=int,
        metavar="N",
        help="HTTP requests served at once per process; a parked long-poll wait holds one "
        "(MAILBOT_HTTP_THREADS, default 1500)",
    )
    serve.add_argument(
        "--http-queue",
        type=int,
        metavar="N",
        help="HTTP requests that may wait for a thread; past them, 503 server_busy at once "
        "(MAILBOT_HTTP_QUEUE, default 500)",
    )
    serve.add_argument(
        "--retention-interval",
        type=int,
        metavar="SECONDS",
        help="how often retention runs (MAILBOT_RETENTION_INTERVAL, default 60)",
    )
    serve.add_argument(
        "--catch-all-key",
        metavar="KEY",
        help="plain SMTP mail to outside addresses is captured in this key's account "
        "(MAILBOT_CATCH_ALL_KEY; default: one made at first start and kept beside the database)",
    )
    serve.add_argument(
        "--smtp-sender-check",
        choices=("on", "off"),
        help="after AUTH, the envelope sender and From: must be the logged-in inbox's address "
        "(MAILBOT_SMTP_SENDER_CHECK, default on)",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="where recipients reach this sandbox over HTTP, the root of tracked mail's pixel "
        "and links (MAILBOT_PUBLIC_URL, default http://HOST:PORT)",
    )
    serve.add_argument(
        "--reputation-bounce-rate",
        type=float,
        metavar="SHARE",
        help="suspend an inbox whose bounced share of sends passes this "
        "(MAILBOT_REPUTATION_BOUNCE_RATE, default 0.10)",
    )
    serve.add_argument(
        "--reputation-complaint-rate",
        type=float,
        metavar="SHARE",
        help="suspend an inbox whose complained share of sends passes this "
        "(MAILBOT_REPUTATION_COMPLAINT_RATE, default 0.003)",
    )
    serve.add_argument(
        "--reputation-min-sends",
        type=int,
        metavar="N",
        help="sends in the window before reputation is judged "
        "(MAILBOT_REPUTATION_MIN_SENDS, default 20)",
    )
    serve.add_argument(
        "--reputation-window-days",
        type=int,
        metavar="DAYS",
        help="days of sends reputation looks at (MAILBOT_REPUTATION_WINDOW_DAYS, default 7)",
    )
    _data_commands(commands)
    return parser


def _data_commands(commands: Any) -> None:
    """``reset``, ``export`` and ``import``: they work on the database file, no server needed."""
    db_help = "SQLite file (MAILBOT_DB, default .mailbot-sandbox/mailbot.db)"
    key_help = "the API key of the account"
    reset = commands.add_parser(
        "reset",
        help="erase inboxes, mail and domains of one account or of all",
        description="Erase what accounts hold (inboxes, mail, threads, domains, DNS records). "
        "The accounts and their clocks stay. Safe while a server uses the database.",
    )
    reset.add_argument("--db", help=db_help)
    target = reset.add_mutually_exclusive_group(required=True)
    target.add_argument("--key", help=key_help)
    target.add_argument("--all", action="store_true", help="every account in the database")

    export = commands.add_parser(
        "export",
        help="write an account's mail as .eml files or an mbox file",
        description="Write every message of an account (or of one inbox), oldest first, "
        "as the exact bytes stored: a folder of .eml files (one subfolder per inbox) or, "
        "for a DEST ending in .mbox, one mboxrd file.",
    )
    export.add_argument("--db", help=db_help)
    export.add_argument("--key", required=True, help=key_help)
    export.add_argument("--inbox", help="only this inbox (id or address)")
    export.add_argument("--format", choices=("eml", "mbox"), help="default: from DEST's name")
    export.add_argument("dest", metavar="DEST", help="new folder, or new .mbox file")

    imports = commands.add_parser(
        "import",
        help="deliver .eml files or mbox files into an inbox",
        description="Deliver messages into an inbox as if they arrived over SMTP. SOURCE is "
        "an .eml file, an mbox file, or a folder searched for .eml files.",
    )
    imports.add_argument("--db", help=db_help)
    imports.add_argument("--key", required=True, help=key_help)
    imports.add_argument("--inbox", required=True, help="the inbox (id or address)")
    imports.add_argument("sources", metavar="SOURCE", nargs="+", type=Path)


def _serve(options: dict[str, Any]) -> int:
    from mailbot_sandbox.runtime.localkey import with_catch_all_key
    from mailbot_sandbox.runtime.processes.supervisor import Supervisor, worker_count
    from mailbot_sandbox.sandbox import Sandbox

    if "smtp_sender_check" in options:
        options["smtp_sender_check"] = options["smtp_sender_check"] == "on"
    # Settled here, before any worker starts, so that every worker captures into one account.
    config = with_catch_all_key(load_config(options))
    configure_logging(config.log_level, config.log_format)
    workers = worker_count(config)
    server: Sandbox | Supervisor = Supervisor(config) if workers > 1 else Sandbox(config)
    # Before starting: Ctrl+C while the workers start must stop them all, not print a
    # traceback and leave some running.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server.start()
    except SandboxError:
        if not stop.is_set():
            raise
        return 0  # stopped while starting (start stopped what it had started)
    if stop.is_set():
        server.stop()
        return 0
    where = server.describe()
    print(f"mailbot-sandbox {__version__} is running", flush=True)
    print(f"  console  {where['console']}    (the web console: open it in a browser)")
    print(f"  API      {where['api']}    (MailBot(api_key='mb_...', base_url=...))")
    print(
        f"  SMTP     {where['smtp']}    (STARTTLS{', required' if config.smtp_require_tls else ''})"
    )
    print(f"  SMTPS    {where['smtps']}    (TLS from the first byte)")
    if server.tls_ca_file:
        served = f"{server.base_url}/sandbox/v1/tls/ca.pem"
        print(f"  CA       {server.tls_ca_file}    (also GET {served})")
    else:
        print(f"  cert     {config.tls_cert}")
    print(f"  data     {where['data']}")
    print(f"  keys     {'only the configured ones' if config.strict_keys else 'any mb_... key'}")
    if isinstance(server, Supervisor):
        print(f"  workers  {workers} processes, and 1 for webhook deliveries")
    else:
        print("  workers  1 process")
    print(f"  catch-all {config.catch_all_key}    (its mail: GET /sandbox/v1/outbox)")
    print("Press Ctrl+C to stop.", flush=True)
    failed = server.failed if isinstance(server, Supervisor) else threading.Event()
    while not (stop.wait(0.5) or failed.is_set()):
        pass
    print("stopping...", flush=True)
    server.stop()
    if failed.is_set():
        print("mailbot-sandbox: error: a worker process ended unexpectedly", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status. Configuration errors print one line, exit 2."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    options = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    try:
        if args.command == "serve":
            return _serve(options)
        return _data_command(args)
    except SandboxError as exc:
        print(f"mailbot-sandbox: error: {exc}", file=sys.stderr)
        return 2


def _data_command(args: argparse.Namespace) -> int:
    """Run ``reset``, ``export`` or ``import`` on an existing database file."""
    from mailbot_sandbox.core.services import Services
    from mailbot_sandbox.runtime.transfer import export_mail, find_account, import_mail

    config = load_config({"db": args.db})
    if config.db == ":memory:":
        raise ConfigError(f"{args.command} needs a database file, not :memory:")
    if not Path(config.db).expanduser().is_file():
        raise ConfigError(f"database {config.db} does not exist (give --db or MAILBOT_DB)")
    services = Services(config)
    try:
        if args.command == "reset":
            return _reset(services, None if args.all else args.key)
        account = find_account(services.store, args.key)
        if args.command == "export":
            result = export_mail(
                services.store, account, Path(args.dest), fmt=args.format, inbox=args.inbox
            )
            print(
                f"exported {result.messages} messages of {result.inboxes} inboxes to {result.path}"
            )
            return 0
        count = import_mail(services, account, args.inbox, args.sources)
        print(f"imported {count} messages into {args.inbox}")
        return 0
    finally:
        services.shutdown()
        services.close()


def _reset(services: Services, key: str | None) -> int:
    """Erase one account's data (``key``) or every account's; the accounts themselves stay."""
    from mailbot_sandbox.core.accounts import stored_accounts
    from mailbot_sandbox.core.maintenance import reset_account
    from mailbot_sandbox.runtime.transfer import find_account

    if key is not None:
        accounts = [find_account(services.store, key)]
    else:
        accounts = stored_accounts(services.store)
    messages = inboxes = 0
    for account in accounts:
        counts = reset_account(services.store, account)
        messages += counts.get("messages", 0)
        inboxes += counts.get("inboxes", 0)
    print(f"erased {messages} messages and {inboxes} inboxes of {len(accounts)} accounts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
