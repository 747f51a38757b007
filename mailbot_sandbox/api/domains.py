"""``/v1/domains``: register, verify and delete custom domains."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from mailbot_sandbox.api.common import account, json_body, listing, page_args, services, single
from mailbot_sandbox.api.serializers import domain_json
from mailbot_sandbox.core.domains import DomainRow

bp = Blueprint("domains", __name__)


def _domain(row: DomainRow) -> dict[str, Any]:
    return domain_json(row, services().domains.expected_records(row))


@bp.post("/domains")
def create_domain() -> Response:
    return single(_domain(services().domains.create(account(), json_body())), 201)


@bp.get("/domains")
def list_domains() -> Response:
    page, limit = page_args()
    rows, total = services().domains.list_page(account(), page, limit)
    return listing([_domain(r) for r in rows], total, page, limit)


@bp.get("/domains/<domain_id>")
def get_domain(domain_id: str) -> Response:
    return single(_domain(services().domains.get(account(), domain_id)))


@bp.post("/domains/<domain_id>/verify")
def verify_domain(domain_id: str) -> Response:
    json_body()
    row, results = services().domains.verify(account(), domain_id)
    data = _domain(row)
    data.update({f"{purpose}_verified": ok for purpose, ok in results.items()})
    if row["status"] == "verified":
        next_step = "Domain verified: create inboxes on it and send."
    else:
        missing = [p.upper() for p in ("spf", "dkim", "dmarc") if not results[p]]
        next_step = (
            f"Publish the {', '.join(missing)} record(s) listed in dns_records, then call "
            "verify again."
        )
    return single(data, next_step=next_step)


@bp.delete("/domains/<domain_id>")
def delete_domain(domain_id: str) -> Response:
    json_body()
    return single(_domain(services().domains.delete(account(), domain_id)))
