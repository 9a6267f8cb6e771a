// The console's only script: live rows from /events, relative times, filters and action buttons.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";

  function ago(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + " s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + " h" + (minutes % 60 ? " " + (minutes % 60) + " min" : "");
    var days = Math.floor(hours / 24);
    return days + " d" + (hours % 24 ? " " + (hours % 24) + " h" : "");
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("time[data-at]").forEach(function (t) {
      t.textContent = ago(now - Number(t.dataset.at)) + " ago";
    });
  }
  setInterval(tick, 5000);

  document.querySelectorAll("form.filters select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  function rowOf(table, id) {
    return table.querySelector('tr[data-id="' + CSS.escape(id) + '"]');
  }
  function showEmpty(table) {
    var empty = table.querySelector("tbody.empty");
    if (empty && empty.textContent.trim()) empty.hidden = table.tBodies[0].rows.length > 0;
  }
  // The server's order: active first, then by severity, newest first.
  var SEVERITY = { critical: 0, warning: 1, info: 2 };
  function rank(row) {
    var time = row.querySelector("time[data-at]");
    return [row.dataset.status === "resolved" ? 1 : 0, SEVERITY[row.dataset.severity] || 3,
            -Number(time ? time.dataset.at : 0)];
  }
  function before(a, b) {
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
    return false;
  }
  function placeFor(body, row) {
    var key = rank(row);
    for (var i = 0; i < body.rows.length; i++) if (before(key, rank(body.rows[i]))) return body.rows[i];
    return null;
  }
  function apply(table, change) {
    var body = table.tBodies[0];
    var old = rowOf(table, change.id);
    if (!change.match) {
      if (old) old.remove();
    } else {
      var holder = document.createElement("tbody");
      holder.innerHTML = change.html;
      var row = holder.firstElementChild;
      row.classList.add("fresh");
      if (old) old.replaceWith(row); else body.insertBefore(row, placeFor(body, row));
    }
    showEmpty(table);
    tick();
  }
  function counts(values) {
    Object.keys(values).forEach(function (severity) {
      var badge = document.querySelector('.count[data-severity="' + severity + '"] strong');
      if (badge) badge.textContent = values[severity];
    });
  }

  var table = document.querySelector("table[data-feed]");
  var live = document.getElementById("live");
  if (table && window.EventSource) {
    var feed = table.dataset.feed;
    var source = new EventSource(feed + (feed.indexOf("?") >= 0 ? "&" : "?") + "since=" + table.dataset.since);
    source.addEventListener("alert", function (event) { apply(table, JSON.parse(event.data)); });
    source.addEventListener("counts", function (event) { counts(JSON.parse(event.data)); });
    source.addEventListener("open", function () {
      if (live) { live.hidden = false; live.textContent = "live"; live.classList.remove("down"); }
    });
    source.addEventListener("error", function () {
      if (live) { live.textContent = "reconnecting"; live.classList.add("down"); }
    });
  }

  function path(id) {
    return id.split("/").map(encodeURIComponent).join("/");
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    var row = button.closest("[data-id]");
    var note = row.querySelector(".note");
    var body = { action: button.dataset.action };
    if (body.action === "snooze") body.minutes = Number((row.querySelector("select.snooze") || {}).value || 60);
    button.disabled = true;
    note.textContent = "sending…";
    fetch("/alerts/" + path(row.dataset.id) + "/actions", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (response.ok) {
          note.textContent = answer.sent + " sent as " + answer.by + "; waiting for the worker…";
        } else {
          note.textContent = "not sent: " + (answer.error || response.statusText);
          button.disabled = false;
        }
      });
    }).catch(function () {
      note.textContent = "not sent: the console did not answer";
      button.disabled = false;
    });
  });
})();
