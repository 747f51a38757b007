"""``mailbot-sandbox``: the command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from mailbot_sandbox import __version__
from mailbot_sandbox.config import DOMAIN_POLICIES, load_config
from mailbot_sandbox.errors import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    serve.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="(MAILBOT_LOG_LEVEL, default info)",
    )
    return parser


def _serve(options: dict[str, Any]) -> int:
    from mailbot_sandbox.sandbox import Sandbox

    config = load_config(options)
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sandbox = Sandbox(config)
    sandbox.start()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    where = sandbox.describe()
    print(f"mailbot-sandbox {__version__} is running", flush=True)
    print(f"  API      {where['api']}    (MailBot(api_key='mb_...', base_url=...))")
    print(f"  SMTP     {where['smtp']}")
    print(f"  data     {where['data']}")
    print(f"  keys     {'only the configured ones' if config.strict_keys else 'any mb_... key'}")
    print("Press Ctrl+C to stop.", flush=True)
    stop.wait()
    print("stopping...", flush=True)
    sandbox.stop()
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
    except ConfigError as exc:
        print(f"mailbot-sandbox: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
