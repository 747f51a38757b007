// mailbot-sandbox console: small progressive enhancements; every page works without it.
"use strict";

(function () {
  // New mail appears at the top of the inbox page without a reload.
  function followInbox(rows) {
    var url = rows.getAttribute("data-stream");
    if (!url || typeof EventSource === "undefined") return;
    var live = document.createElement("p");
    live.className = "visually-hidden";
    live.setAttribute("aria-live", "polite");
    live.setAttribute("data-testid", "live-status");
    rows.closest("section").appendChild(live);
    var source = new EventSource(url);
    function show(event) {
      // An event's payload carries the message as `data` (the webhook payload's shape).
      var payload = JSON.parse(event.data);
      var message = payload.data && payload.data.id ? payload.data : payload;
      if (!message.id || message.inbox_id !== rows.getAttribute("data-inbox-id")) return;
      if (rows.querySelector('[data-message-id="' + CSS.escape(message.id) + '"]')) return;
      var row = document.createElement("tr");
      row.className = "dir-" + message.direction + " fresh";
      row.setAttribute("data-testid", "message-row");
      row.setAttribute("data-message-id", message.id);
      var who = document.createElement("td");
      who.textContent = message.direction === "outbound"
        ? "to " + (message.to_addresses || []).join(", ")
        : message.from_address;
      var subject = document.createElement("td");
      var link = document.createElement("a");
      link.href = rows.getAttribute("data-message-base") + encodeURIComponent(message.id);
      link.textContent = message.subject || "(no subject)";
      subject.appendChild(link);
      var when = document.createElement("td");
      var time = document.createElement("time");
      time.setAttribute("datetime", message.created_at);
      time.textContent = message.created_at.replace("T", " ").replace("Z", "");
      when.appendChild(time);
      row.append(who, subject, when);
      rows.insertBefore(row, rows.firstChild);
      var empty = document.querySelector('[data-testid="no-messages"]');
      if (empty) empty.remove();
      live.textContent = "New message: " + link.textContent;
    }
    ["message", "message.received", "message.sent"].forEach(function (name) {
      source.addEventListener(name, show);
    });
    source.addEventListener("bye", function () {
      // The server ends a stream after a while; EventSource reconnects by itself.
    });
  }

  // Forms that remove something ask first.
  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  // The message body: desktop/phone width, and remote images on request, without a reload.
  function messageFrame() {
    var wrap = document.querySelector('[data-testid="body-frame-wrap"]');
    if (!wrap) return;
    var frame = wrap.querySelector("iframe");
    var toggle = document.querySelector("[data-width-toggle]");
    if (toggle) {
      toggle.addEventListener("click", function (event) {
        event.preventDefault();
        var phone = wrap.classList.toggle("frame-phone");
        wrap.classList.toggle("frame-desktop", !phone);
        toggle.textContent = phone ? "Desktop width" : "Phone width";
      });
    }
    var remote = document.querySelector("[data-remote-images]");
    if (remote) {
      remote.addEventListener("click", function (event) {
        event.preventDefault();
        var url = new URL(frame.src, window.location.href);
        url.searchParams.set("remote", "1");
        frame.src = url.toString();
        var note = document.createElement("span");
        note.setAttribute("data-testid", "remote-loaded");
        note.textContent = "Remote images shown";
        remote.replaceWith(note);
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var rows = document.getElementById("message-rows");
    if (rows) followInbox(rows);
    confirmForms();
    messageFrame();
  });
})();
