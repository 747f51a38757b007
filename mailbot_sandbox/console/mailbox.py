"""The console's inbox and message pages, the actions on an inbox, and the live stream of
an inbox's new mail for the page that shows it."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from mailbot_sandbox.api.common import content_disposition, services
from mailbot_sandbox.api.streams import event_stream
from mailbot_sandbox.console.access import viewer
from mailbot_sandbox.console.blueprint import bp
from mailbot_sandbox.console.forms import page_number, reported
from mailbot_sandbox.console.reading import links_in, with_inline_images
from mailbot_sandbox.core import maintenance
from mailbot_sandbox.core.drafts import NewMessage
from mailbot_sandbox.core.inboxes import InboxChanges
from mailbot_sandbox.errors import ApiError, InvalidRequest
from mailbot_sandbox.mail.addresses import parse_address

MESSAGES_PER_PAGE = 50
THREADS_PER_PAGE = 20
STATUSES = ("active", "disabled", "suspended")
SIMULATED = ("opened", "clicked", "bounced", "complained")
# The message body's own policy: no script of any kind, no request anywhere (remote images
# only once the reader asks), styles inline as mail writes them; framed by our page only.
BODY_POLICY = (
    "default-src 'none'; img-src data: cid:{remote}; style-src 'unsafe-inline'; "
    "font-src data:; frame-ancestors 'self'"
)
# The events of an inbox that put a message in it, which its page adds as rows.
STREAMED = ("message.received", "message.sent")


@bp.get("/inboxes/<inbox_id>")
def inbox(inbox_id: str) -> str:
    """Threads and messages of one inbox, newest first, or what a search finds."""
    account = viewer().owner(inbox_id)
    box = services().inboxes.get(account, inbox_id)
    query = (request.args.get("q") or "").strip()
    thread_id = request.args.get("thread") or None
    thread = services().threads.get(account, inbox_id, thread_id) if thread_id else None
    page = page_number()
    search_error = None
    if query:
        try:
            found, total = services().messages.search(
                account, inbox_id, query, limit=MESSAGES_PER_PAGE
            )
        except ApiError as exc:  # a refused search is shown beside the box, not as a page
            search_error, found, total = exc.message, [], 0
    else:
        found, total = services().messages.list_page(
            account, inbox_id, page=page, limit=MESSAGES_PER_PAGE, thread_id=thread_id
        )
    # The thread list pages on its own (?threads_page=), beside the messages' ?page=.
    threads_page = page_number("threads_page")
    threads, thread_total = services().threads.list_page(
        account, inbox_id, page=threads_page, limit=THREADS_PER_PAGE
    )
    return render_template(
        "inbox.html",
        inbox=box,
        messages=found,
        total=total,
        threads=threads,
        thread_total=thread_total,
        query=query,
        thread=thread,
        search_error=search_error,
        page=page,
        pages=1 if query else max(1, -(-total // MESSAGES_PER_PAGE)),
        threads_page=threads_page,
        thread_pages=max(1, -(-thread_total // THREADS_PER_PAGE)),
        statuses=STATUSES,
    )


@bp.post("/inboxes/<inbox_id>/status")
def change_status(inbox_id: str) -> ResponseReturnValue:
    """Enable, disable or suspend an inbox."""
    account = viewer().owner(inbox_id)
    status = request.form.get("status", "")
    if status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    with reported(f"set the inbox {status}"):
        services().inboxes.update(account, inbox_id, InboxChanges(status=status))
        flash(f"The inbox is now {status}.", "info")
    return redirect(url_for("console.inbox", inbox_id=inbox_id))


@bp.post("/inboxes/<inbox_id>/clear")
def clear(inbox_id: str) -> ResponseReturnValue:
    """Remove every message and thread of the inbox; the inbox stays."""
    account = viewer().owner(inbox_id)
    with reported("clear the inbox"):
        removed = maintenance.clear_inbox(services().store, account, inbox_id)
        flash(f"Removed {removed['messages']} message(s).", "info")
    return redirect(url_for("console.inbox", inbox_id=inbox_id))


@bp.post("/inboxes/<inbox_id>/test-message")
def send_test(inbox_id: str) -> ResponseReturnValue:
    """Send a message from the inbox (to itself unless the form names someone else)."""
    account = viewer().owner(inbox_id)
    box = services().inboxes.get(account, inbox_id)
    given = (request.form.get("to") or "").strip()
    recipient = parse_address(given) if given else box["address"]
    if recipient is None:
        raise InvalidRequest(f"{given!r} is not an email address", field="to")
    subject = (request.form.get("subject") or "").strip() or "Test message from the console"
    text = request.form.get("body_text") or "Sent from the mailbot-sandbox web console."
    with reported("send the test message"):
        sent = services().delivery.send(
            account, inbox_id, NewMessage(to=[recipient], subject=subject, body_text=text)
        )
        flash(f"Sent {sent['id']} to {recipient}.", "info")
    return redirect(url_for("console.inbox", inbox_id=inbox_id))


@bp.post("/inboxes/<inbox_id>/messages/<message_id>/simulate")
def simulate(inbox_id: str, message_id: str) -> ResponseReturnValue:
    """Make an engagement event happen to a message, as the hosted side would report it."""
    account = viewer().owner(inbox_id)
    services().messages.get(account, inbox_id, message_id)
    event = request.form.get("event", "")
    if event not in SIMULATED:
        raise InvalidRequest(f"event must be one of {', '.join(SIMULATED)}, got {event!r}")
    url = (request.form.get("url") or "").strip() or None
    with reported(f"simulate {event}"):
        services().engagement.simulate(account, message_id, event, url)
        flash(f"Recorded: {event}.", "info")
    return redirect(url_for("console.message", inbox_id=inbox_id, message_id=message_id))


@bp.get("/inboxes/<inbox_id>/messages/<message_id>")
def message(inbox_id: str, message_id: str) -> str:
    """One message: its body in a sandboxed frame, text, headers, attachments, thread, links."""
    account = viewer().owner(inbox_id)
    box = services().inboxes.get(account, inbox_id)
    row = services().messages.get(account, inbox_id, message_id)
    raw = services().messages.raw(account, inbox_id, message_id)
    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    return render_template(
        "message.html",
        inbox=box,
        message=row,
        attachments=services().messages.attachments_of([row["seq"]]).get(row["seq"], []),
        headers=[(name, str(value)) for name, value in headers.items()],
        thread=services().messages.thread_messages(row["thread_id"]),
        links=links_in(row["body_html"], row["body_text"]),
        timeline=services().engagement.timeline(account, message_id)[1],
        simulated=SIMULATED,
        remote=request.args.get("remote") == "1",
        width="phone" if request.args.get("width") == "phone" else "desktop",
    )


@bp.get("/inboxes/<inbox_id>/messages/<message_id>/body")
def message_body(inbox_id: str, message_id: str) -> Response:
    """The message's HTML on its own, for the page's sandboxed frame: no script can run and
    nothing is fetched from elsewhere unless ``?remote=1`` (the reader's choice)."""
    account = viewer().owner(inbox_id)
    row = services().messages.get(account, inbox_id, message_id)
    remote = " https: http:" if request.args.get("remote") == "1" else ""
    html = row["body_html"]
    if html is None:
        html = str(Markup("<pre>{}</pre>").format(row["body_text"] or ""))
    else:
        parts = services().messages.inline_parts(account, inbox_id, message_id)
        html = with_inline_images(
            html, [(p["content_id"] or "", p["content_type"], p["content"]) for p in parts]
        )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = BODY_POLICY.format(remote=remote)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/inboxes/<inbox_id>/messages/<message_id>.eml")
def message_raw(inbox_id: str, message_id: str) -> Response:
    """The message as received (or as sent), for a mail program."""
    account = viewer().owner(inbox_id)
    raw = services().messages.raw(account, inbox_id, message_id)
    return Response(
        raw,
        mimetype="message/rfc822",
        headers={"Content-Disposition": content_disposition("attachment", f"{message_id}.eml")},
    )


@bp.get("/inboxes/<inbox_id>/messages/<message_id>/attachments/<attachment_id>")
def attachment(inbox_id: str, message_id: str, attachment_id: str) -> Response:
    """An attachment, always as a download: an HTML attachment must not run as our page."""
    account = viewer().owner(inbox_id)
    row = services().messages.attachment(account, inbox_id, message_id, attachment_id)
    response = Response(row["content"], mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = content_disposition("attachment", row["filename"])
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@bp.get("/inboxes/<inbox_id>/stream")
def stream(inbox_id: str) -> Response:
    """The inbox's new messages as Server-Sent Events, for the inbox page's script: the same
    stream as ``GET /v1/inboxes/{id}/stream``, authorized by the console's session cookie
    (EventSource cannot send an Authorization header)."""
    account = viewer().owner(inbox_id)
    resume = request.headers.get("Last-Event-ID", "").strip() or None
    subscription = services().streams.subscribe(
        account, inbox_id=inbox_id, events=list(STREAMED), last_event_id=resume
    )
    return event_stream(subscription)
