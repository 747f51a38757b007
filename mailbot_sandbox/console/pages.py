"""The console's account-wide pages: the overview of inboxes, domains, webhooks, the outbox
of captured mail, and signing in and out."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from mailbot_sandbox.api.common import services
from mailbot_sandbox.console import access
from mailbot_sandbox.console.access import viewer
from mailbot_sandbox.console.blueprint import bp
from mailbot_sandbox.console.charts import send_chart
from mailbot_sandbox.console.forms import page_number, reported, safe_next
from mailbot_sandbox.core.accounts import Account
from mailbot_sandbox.errors import ApiError, InvalidRequest, NotFound

# Cards per overview page: enough to see a whole test suite's inboxes, few enough to render
# fast with hundreds of inboxes behind them.
CARDS_PER_PAGE = 100
STATUSES = ("active", "disabled", "suspended")
DELIVERIES_SHOWN = 20
CAPTURED_PER_PAGE = 50


@bp.before_request
def _require_sign_in() -> ResponseReturnValue | None:
    """With a key-protected console, every page but signing in asks who is there first."""
    person = viewer()
    if person.needs_key and not person.signed_in and request.endpoint not in _OPEN_ENDPOINTS:
        return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
    return None


_OPEN_ENDPOINTS = {"console.sign_in", "console.static"}


@bp.get("/")
def overview() -> str:
    """One card per inbox, grouped by account, filtered by domain, status and account."""
    person = viewer()
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    domain = (request.args.get("domain") or "").strip().lower() or None
    chosen = person.account_named(request.args.get("account"))
    page = page_number()
    scope = [chosen] if chosen else person.scope()
    found = services().overview.page(
        scope, page=page, limit=CARDS_PER_PAGE, status=status, domain=domain
    )
    groups: dict[str, list[Any]] = {}
    for card in found.cards:
        groups.setdefault(card.inbox["account_id"], []).append(card)
    accounts = person.accounts()
    filters = {"status": status, "domain": domain, "account": chosen.id if chosen else None}
    return render_template(
        "overview.html",
        groups=groups,
        short_ids={a.id: a.short_id for a in accounts},
        accounts=accounts,
        total=found.total,
        domains=found.domains,
        statuses=STATUSES,
        filters=filters,
        query={name: value for name, value in filters.items() if value},
        page=page,
        pages=max(1, -(-found.total // CARDS_PER_PAGE)),
        send_chart=send_chart,
    )


@bp.get("/domains")
def domains() -> str:
    """Each account's custom domains, their DNS records and verification state."""
    listed = []
    for account in viewer().accounts():
        rows, _ = services().domains.list_page(account, page=1, limit=100)
        for row in rows:
            listed.append((account, row, services().domains.expected_records(row)))
    return render_template("domains.html", listed=listed)


@bp.post("/domains/<domain_id>/verify")
def verify_domain(domain_id: str) -> ResponseReturnValue:
    """Check a domain's records now."""
    account = _owner_of_domain(domain_id)
    with reported("verify the domain"):
        row, _ = services().domains.verify(account, domain_id)
        flash(f"{row['domain']} is {row['status']}", "info")
    return redirect(url_for("console.domains"))


@bp.get("/webhooks")
def webhooks() -> str:
    """Each webhook with its latest deliveries and their attempts."""
    listed = []
    for account in viewer().accounts():
        for hook in services().webhooks.all(account):
            deliveries, attempts, total = services().webhooks.deliveries(
                account, hook["id"], page=1, limit=DELIVERIES_SHOWN
            )
            listed.append((account, hook, deliveries, attempts, total))
    return render_template("webhooks.html", listed=listed)


@bp.post("/webhooks/events/<event_id>/replay")
def replay_event(event_id: str) -> ResponseReturnValue:
    """Queue an event again for every webhook that hears it."""
    account = _owner_of_event(event_id)
    with reported("replay the event"):
        queued = services().webhooks.replay(account, event_id)
        flash(f"event {event_id} queued again for {len(queued)} webhook(s)", "info")
    return redirect(url_for("console.webhooks"))


@bp.get("/outbox")
def outbox() -> str:
    """Mail sent to addresses outside the sandbox, captured here instead."""
    page = page_number()
    listed = []
    for account in viewer().accounts():
        rows, total = services().outbox.list_page(account, page=page, limit=CAPTURED_PER_PAGE)
        listed.append((account, rows, total))
    return render_template("outbox.html", listed=listed, page=page)


@bp.get("/outbox/<captured_id>.eml")
def captured_raw(captured_id: str) -> Response:
    """The captured message's bytes, as a download."""
    for account in viewer().accounts():
        try:
            raw = services().outbox.raw(account, captured_id)
        except ApiError:
            continue
        return Response(
            raw,
            mimetype="message/rfc822",
            headers={"Content-Disposition": f'attachment; filename="{captured_id}.eml"'},
        )
    return _missing(f"captured message {captured_id!r} not found")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """Sign in with an API key (only asked for when the console is protected)."""
    target = safe_next(request.values.get("next"))
    if not viewer().needs_key:
        return redirect(target)
    error = None
    if request.method == "POST":
        key = request.form.get("api_key", "")
        try:
            access.sign_in(key)
        except ApiError as exc:
            error = exc.message
        else:
            return redirect(target)
    return render_template("sign_in.html", error=error, next=target)


@bp.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    access.sign_out()
    return redirect(url_for("console.sign_in"))


def _owner_of_domain(domain_id: str) -> Account:
    for account in viewer().accounts():
        try:
            services().domains.get(account, domain_id)
        except ApiError:
            continue
        return account
    return _missing(f"domain {domain_id!r} not found")


def _owner_of_event(event_id: str) -> Account:
    for account in viewer().accounts():
        try:
            services().webhooks.event(account, event_id)
        except ApiError:
            continue
        return account
    return _missing(f"event {event_id!r} not found")


def _missing(message: str) -> NoReturn:
    raise NotFound(message)
