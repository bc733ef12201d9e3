// TraceCenter's small amount of script: repeating form rows and live derived dates.
// Everything works without it (one empty row of each kind is always served).
(function () {
  "use strict";

  function addRow(fieldset) {
    var prefix = fieldset.dataset.prefix;
    var total = fieldset.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
    var template = fieldset.querySelector("template");
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var row = holder.firstElementChild;
    fieldset.querySelector(".rows").appendChild(row);
    total.value = String(index + 1);
    var first = row.querySelector("input, select");
    if (first) { first.focus(); }
  }

  function refreshDerived(form) {
    var url = form.dataset.derivedUrl;
    if (!url) { return; }
    var data = new FormData();
    ["csrfmiddlewaretoken", "case-symptom_onset", "case-asymptomatic"].forEach(function (name) {
      var el = form.querySelector("[name='" + name + "']");
      if (!el) { return; }
      if (el.type === "checkbox") { if (el.checked) { data.append(name, "on"); } } else { data.append(name, el.value); }
    });
    fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (json) {
        var why = document.getElementById("derived-why");
        // Dates that cannot be computed are not left showing the last ones that could: say why instead.
        if (why) { why.textContent = json.error || ""; }
        document.getElementById("derived-infectious").textContent = json.error ? "—" : json.infectious_start + " – " + json.infectious_end;
        document.getElementById("derived-isolation").textContent = json.error ? "—" : json.isolation_end;
      })
      .catch(function () { /* the saved page shows the dates anyway */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("fieldset.repeating .add-row").forEach(function (button) {
      button.addEventListener("click", function () { addRow(button.closest("fieldset")); });
    });
    var form = document.getElementById("interview-form");
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }  // a screen reader reads the list; Tab goes to the first link
    if (form) {
      // Enter in a one-line field of a long form sent it half filled: there it does nothing (a textarea keeps
      // its line breaks, and the buttons still work with Enter).
      form.addEventListener("keydown", function (event) {
        var el = event.target;
        if (event.key === "Enter" && el.tagName === "INPUT" && ["submit", "button", "reset", "image"].indexOf(el.type) < 0) {
          event.preventDefault();
        }
      });
      ["case-symptom_onset", "case-asymptomatic"].forEach(function (name) {
        var el = form.querySelector("[name='" + name + "']");
        if (el) { el.addEventListener("change", function () { refreshDerived(form); }); }
      });
    }
  });
})();

// Progress of a file being ingested: poll the counts until the delivery is finished, then show the report.
(function () {
  "use strict";
  var box = document.getElementById("intake-progress");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var count = box.querySelector(".count");
  function poll() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        bar.max = Math.max(p.total, 1);
        bar.value = p.done;
        count.textContent = p.done + " / " + p.total;
        if (p.finished) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();

// Live updates: a socket to /live/ that says which parts of the page changed; each part is fetched
// again through its ordinary (audited) view. Reconnects by itself (back-off, and at once when the tab
// wakes or the network returns) and asks for what it missed since the last push it saw.
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-live]");
  var main = document.getElementById("main");
  var status = document.getElementById("live-status");
  if (!regions.length || !window.WebSocket || !main) { return; }
  var after = parseInt(main.dataset.liveAfter || "0", 10) || 0;
  // What the page already shows: pushes up to this id, made before this time (the server's clock).
  var shownUpTo = after;
  var renderedAt = parseInt(main.dataset.liveSince || "0", 10) || 0;
  var seen = new Set();
  var socket = null;
  var delay = 1000;
  var pending = new Map();
  var lastHeard = Date.now();

  function say(key, paused) {
    if (!status) { return; }
    status.textContent = status.dataset[key] || "";
    status.classList.toggle("paused", Boolean(paused));
  }

  function refresh(region) {
    if (pending.has(region)) { return; }  // a burst of pushes is one fetch
    pending.set(region, window.setTimeout(function () {
      pending.delete(region);
      fetch(region.dataset.livePart, { credentials: "same-origin", redirect: "manual" })
        .then(function (response) {
          if (response.type === "opaqueredirect" || response.status === 403) { say("signedOut", true); return null; }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html === null) { return; }
          region.innerHTML = html;
          if (window.htmx) { window.htmx.process(region); }  // its pager and filters work as on a fresh page
          region.classList.remove("live-updated");
          void region.offsetWidth;  // restart the highlight
          region.classList.add("live-updated");
          say("updated");
        })
        .catch(function () { /* the next push or reconnect fetches it again */ });
    }, 250));
  }

  function handle(message) {
    lastHeard = Date.now();
    if (message.type === "reload") { window.location.reload(); return; }
    if (message.type !== "push" || seen.has(message.id)) { return; }
    seen.add(message.id);
    if (message.id <= shownUpTo && message.at < renderedAt) { return; }  // already on the page
    after = Math.max(after, message.id);
    // Looked up again each time: a filter or a page of the list (htmx) replaces the regions the page began with.
    document.querySelectorAll("[data-live]").forEach(function (region) {
      if (region.dataset.live.split(" ").indexOf(message.kind) >= 0) { refresh(region); }
    });
  }

  function connect() {
    if (socket) { return; }
    var url = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/live/";
    socket = new WebSocket(url);
    socket.onopen = function () {
      delay = 1000;
      lastHeard = Date.now();
      say("connected");
      socket.send(JSON.stringify({ type: "resume", after: after }));
    };
    socket.onmessage = function (event) {
      try { handle(JSON.parse(event.data)); } catch (ignored) { /* not ours */ }
    };
    socket.onclose = function (event) {
      socket = null;
      if (event.code === 4401) { say("signedOut", true); return; }
      say("reconnecting", true);
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  // A socket can look open after a laptop sleeps while its connection is long dead: ping, and
  // reconnect when nothing comes back.
  window.setInterval(function () {
    if (!socket || socket.readyState !== WebSocket.OPEN) { return; }
    if (Date.now() - lastHeard > 60000) { socket.close(); return; }
    socket.send(JSON.stringify({ type: "ping" }));
  }, 25000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { delay = 1000; connect(); } });
  window.addEventListener("online", function () { delay = 1000; connect(); });
  connect();
})();

// Offers on the tracer's desk count down to their deadline (from the seconds the server gave when it drew them,
// so a wrong clock on the laptop does not matter); at zero the offer says it timed out and its buttons stop.
(function () {
  "use strict";
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      if (!el.dataset.deadline) {
        el.dataset.deadline = String(Date.now() + 1000 * (parseInt(el.dataset.countdown, 10) || 0));
      }
      var left = Math.max(0, Math.round((parseInt(el.dataset.deadline, 10) - Date.now()) / 1000));
      if (left > 0) {
        el.textContent = (el.dataset.leftText || "").replace("__S__", String(left));
        return;
      }
      if (el.dataset.done) { return; }
      el.dataset.done = "1";
      el.textContent = el.dataset.expired || "";
      var card = el.closest(".desk-offer");
      if (card) {
        card.classList.add("expired");
        card.querySelectorAll("button, input").forEach(function (control) { control.disabled = true; });
      }
    });
  }
  if (document.querySelector("[data-live]")) { window.setInterval(tick, 1000); tick(); }
})();

// htmx (results and lists updated in place): an answer that is the sign-in page (the session ended) is not put
// inside the page; the browser goes there, as a link would.
document.addEventListener("htmx:beforeSwap", function (event) {
  "use strict";
  var xhr = event.detail.xhr;
  if (xhr && xhr.responseURL && xhr.responseURL.indexOf("/accounts/login/") >= 0) {
    event.detail.shouldSwap = false;
    window.location.assign(xhr.responseURL);
  }
});

// After htmx replaced a list: say so to a screen reader (the page's status line), and when the control that was
// used went away with the old list (a pager's link), put the keyboard's focus at the start of the new one.
document.addEventListener("htmx:afterSettle", function (event) {
  "use strict";
  var target = event.detail.target;
  if (!target || target.id !== "work-lists") { return; }
  var status = document.getElementById("live-status");
  if (status) { status.textContent = status.dataset.updated || ""; }
  if (!document.activeElement || document.activeElement === document.body) {
    target.setAttribute("tabindex", "-1");
    target.focus();
  }
});
