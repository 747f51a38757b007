"""``/v1/domains``: register, verify and delete custom domains."""

from __future__ import annotations

from flask import Blueprint, Response

from mailbot_sandbox.api.bodies import NewDomainBody
from mailbot_sandbox.api.common import account, listing, services, single
from mailbot_sandbox.api.objects import Domain, VerifyResult, domain_json
from mailbot_sandbox.api.queries import PageQuery
from mailbot_sandbox.api.routes import route

bp = Blueprint("domains", __name__)


@route(
    bp,
    "POST",
    "/domains",
    "Register a domain",
    body=NewDomainBody,
    response=Domain,
    status=201,
    errors=(409,),
)
def create_domain(body: NewDomainBody) -> Response:
    return single(domain_json(services().domains.create(account(), body.domain)), 201)


@route(bp, "GET", "/domains", "List domains", query=PageQuery, response=Domain, envelope="list")
def list_domains(query: PageQuery) -> Response:
    rows, total = services().domains.list_page(account(), query.page, query.limit)
    return listing([domain_json(r) for r in rows], total, query.page, query.limit)


@route(bp, "GET", "/domains/<domain_id>", "Get a domain", response=Domain)
def get_domain(domain_id: str) -> Response:
    return single(domain_json(services().domains.get(account(), domain_id)))


@route(
    bp,
    "POST",
    "/domains/<domain_id>/verify",
    "Check a domain's DNS records",
    response=VerifyResult,
    envelope="bare",
)
def verify_domain(domain_id: str) -> Response:
    row, results = services().domains.verify(account(), domain_id)
    data = domain_json(row)
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


@route(
    bp,
    "DELETE",
    "/domains/<domain_id>",
    "Delete a domain no active inbox uses",
    response=Domain,
    errors=(409,),
)
def delete_domain(domain_id: str) -> Response:
    return single(domain_json(services().domains.delete(account(), domain_id)))
