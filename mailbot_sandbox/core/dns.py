"""Where strict domain verification looks records up.

By default that is the sandbox's own DNS table (set per account through the control plane), so
a test can publish records without a real zone. With ``dns_server`` configured, a real DNS
server is asked instead (through dnspython).
"""

from __future__ import annotations

from typing import Protocol

from mailbot_sandbox.store import Store, domains


class DnsLookup(Protocol):
    def txt(self, name: str) -> list[str]: ...

    def mx(self, name: str) -> list[tuple[int, str]]: ...


def normalize_name(name: str) -> str:
    return name.strip().lower().rstrip(".")


class TableLookup:
    """Records from the ``dns_records`` table of one account."""

    def __init__(self, store: Store, account_id: str) -> None:
        self._store = store
        self._account_id = account_id

    def _values(self, name: str, record_type: str) -> list[tuple[str, int | None]]:
        return domains.record_values(
            self._store, self._account_id, normalize_name(name), record_type
        )

    def txt(self, name: str) -> list[str]:
        return [value for value, _ in self._values(name, "TXT")]

    def mx(self, name: str) -> list[tuple[int, str]]:
        return [
            (int(priority or 0), normalize_name(value))
            for value, priority in self._values(name, "MX")
        ]


class ServerLookup:
    """Records from a real DNS server at ``host:port``."""

    def __init__(self, server: str, timeout: float = 3.0) -> None:
        import dns.resolver

        host, _, port = server.rpartition(":") if ":" in server else (server, "", "53")
        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = [host or server]
        self._resolver.port = int(port or 53)
        self._resolver.lifetime = timeout

    def _answer(self, name: str, record_type: str) -> list[object]:
        import dns.exception
        import dns.resolver

        try:
            return list(self._resolver.resolve(name, record_type))
        except (
            dns.resolver.NXDOMAIN,
            dns.resolver.NoAnswer,
            dns.resolver.NoNameservers,
            dns.exception.Timeout,
        ):
            return []

    def txt(self, name: str) -> list[str]:
        return [b"".join(r.strings).decode(errors="replace") for r in self._answer(name, "TXT")]  # type: ignore[attr-defined]

    def mx(self, name: str) -> list[tuple[int, str]]:
        return [
            (int(r.preference), normalize_name(r.exchange.to_text()))  # type: ignore[attr-defined]
            for r in self._answer(name, "MX")
        ]
