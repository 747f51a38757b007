"""Strict domain verification against a real DNS server (``--dns-server``), here a tiny
authoritative server on 127.0.0.1 built with dnspython that answers from a dict."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.message
import dns.rcode
import dns.rrset
import pytest

from mailbot_sandbox import Sandbox
from tests.helpers import Api

ZONE: dict[tuple[str, str], list[str]] = {}


def _serve(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(4096)
        except TimeoutError:
            continue
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        values = ZONE.get((name, kind))
        if values:
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", kind, values))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        sock.sendto(response.to_wire(), peer)


@pytest.fixture(scope="module")
def dns_sandbox() -> Iterator[Sandbox]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    stop = threading.Event()
    server = threading.Thread(target=_serve, args=(sock, stop), daemon=True)
    server.start()
    port = sock.getsockname()[1]
    with Sandbox(domain_policy="strict", dns_server=f"127.0.0.1:{port}") as sandbox:
        yield sandbox
    stop.set()
    server.join()
    sock.close()


def _publish(domain: dict, purposes: set[str]) -> None:
    for record in domain["dns_records"]:
        if record["purpose"] in purposes:
            value = record["value"]
            if record["type"] == "TXT":  # as zones hold long DKIM keys: 255-byte strings
                value = " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))
            else:
                value = f"{record['priority']} {value}."
            ZONE[(record["name"], record["type"])] = [value]


def test_verify_asks_the_configured_dns_server(make_api, dns_sandbox: Sandbox) -> None:
    api: Api = make_api(target=dns_sandbox)
    domain = api.post("/v1/domains", json={"domain": "real-dns.example"}).json()["data"]
    before = api.post(f"/v1/domains/{domain['id']}/verify").json()["data"]
    assert before["status"] == "failed" and before["spf_verified"] is False

    _publish(domain, {"spf", "dmarc"})
    partial = api.post(f"/v1/domains/{domain['id']}/verify").json()["data"]
    assert (partial["spf_verified"], partial["dmarc_verified"], partial["dkim_verified"]) == (
        True,
        True,
        False,
    )

    _publish(domain, {"dkim", "mx"})
    after = api.post(f"/v1/domains/{domain['id']}/verify").json()["data"]
    assert after["status"] == "verified"
    assert {r["purpose"]: r["status"] for r in after["dns_records"]}["mx"] == "verified"
    assert api.create_inbox(username="ops", domain="real-dns.example")["address"] == (
        "ops@real-dns.example"
    )
