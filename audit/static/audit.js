/* windvane audit: keyboard-only review. No inline scripts (the pages' CSP forbids them);
   everything this file needs is in data- attributes and the <meta name="csrf-token">. */
(function () {
  "use strict";
  var body = document.body;
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var picker = document.getElementById("reason-picker");
  var reasons = picker ? Array.prototype.map.call(picker.querySelectorAll(".reason-key"),
    function (b) { return b.getAttribute("data-reason"); }) : [];
  var rejecting = false;
  var busy = false;

  function say(msg) {
    var el = document.getElementById("key-status");
    if (el) { el.textContent = msg; }
  }

  function post(payload) {
    return fetch("/api/decisions", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(payload)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { throw new Error((data && data.error) || ("HTTP " + r.status)); }
        return data;
      });
    });
  }

  function go(url) { if (url) { window.location.assign(url); } }

  function typing(e) {
    var t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) && t.type !== "checkbox");
  }

  function showPicker(on) {
    rejecting = on;
    if (picker) { picker.hidden = !on; }
    say(on ? "驳回：按数字选理由 reject: press a digit for the reason" : "");
  }

  // while the reason picker is open: a digit rejects with that reason, Escape cancels
  function pickReason(e, decide) {
    if (e.key === "Escape") { showPicker(false); e.preventDefault(); return; }
    var n = parseInt(e.key, 10);
    if (n >= 1 && n <= reasons.length) { showPicker(false); decide("reject", reasons[n - 1]); e.preventDefault(); }
  }

  function bindPicker(decide) {
    if (!picker) { return; }
    picker.addEventListener("click", function (e) {
      var b = e.target.closest(".reason-key");
      if (b) { showPicker(false); decide("reject", b.getAttribute("data-reason")); }
    });
  }

  function undoLast() {
    var id = body.getAttribute("data-last-decision");
    if (!id) { say("没有可撤销的决定 nothing to undo"); return; }
    var payload = { decision: "undo", undoes: Number(id) };
    var ev = body.getAttribute("data-last-evidence");
    if (ev) { payload.evidence_id = ev; }
    busy = true;
    post(payload).then(function () {
      var url = body.getAttribute("data-last-evidence-url");
      if (url) { go(url); } else { window.location.reload(); }
    }).catch(function (err) { busy = false; say("撤销失败 undo failed: " + err.message); });
  }

  // --- one piece of evidence ------------------------------------------------------------
  function evidencePage() {
    var eid = body.getAttribute("data-evidence-id");
    var nextUrl = body.getAttribute("data-next-url");
    var role = body.getAttribute("data-role") || "review";
    var mark = document.getElementById("snippet-mark");
    var box = document.getElementById("page-text");
    if (mark && box) { box.scrollTop = Math.max(0, mark.offsetTop - box.offsetTop - 80); }

    function decide(decision, reason) {
      if (busy) { return; }
      busy = true;
      var payload = { evidence_id: eid, decision: decision, role: role };
      if (reason) { payload.reason = reason; }
      say("保存中 saving…");
      post(payload).then(function () { go(nextUrl); })
        .catch(function (err) { busy = false; say("失败 failed: " + err.message); });
    }

    bindPicker(decide);

    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) { return; }
      var k = e.key;
      if (rejecting) { pickReason(e, decide); return; }
      if (k === "j" || k === "n" || k === "s") { e.preventDefault(); go(nextUrl); }
      else if (k === "c") { e.preventDefault(); decide("confirm"); }
      else if (k === "r") { e.preventDefault(); showPicker(true); }
      else if (k === "u") { e.preventDefault(); undoLast(); }
    });
  }

  // --- the queue ------------------------------------------------------------------------
  function queuePage() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
    var cur = -1;
    var selectAll = document.getElementById("select-all");
    if (selectAll) {
      selectAll.addEventListener("change", function () {
        rows.forEach(function (r) { r.querySelector("input.select").checked = selectAll.checked; });
      });
    }
    function setCurrent(i) {
      if (cur >= 0 && rows[cur]) { rows[cur].classList.remove("current"); }
      cur = i;
      if (cur >= 0 && rows[cur]) {
        rows[cur].classList.add("current");
        rows[cur].scrollIntoView({ block: "nearest" });
      }
    }
    function nextUnreviewed(from) {
      for (var k = 1; k <= rows.length; k++) {
        var i = (from + k) % rows.length;
        if (rows[i].getAttribute("data-status") === "unreviewed") { return i; }
      }
      return -1;
    }
    function setStatus(row, status) {
      row.setAttribute("data-status", status);
      var cell = row.querySelector(".status-cell");
      if (cell) {
        var labels = { confirmed: "已确认 confirmed", rejected: "已驳回 rejected", unreviewed: "待审 unreviewed" };
        cell.innerHTML = "";
        var span = document.createElement("span");
        span.className = "status status-" + status;
        span.setAttribute("data-status", status);
        span.textContent = labels[status] || status;
        cell.appendChild(span);
      }
    }
    function decide(decision, reason) {
      var row = rows[cur];
      if (!row || busy) { return; }
      busy = true;
      var payload = { evidence_id: row.getAttribute("data-evidence-id"), decision: decision };
      if (reason) { payload.reason = reason; }
      post(payload).then(function (d) {
        busy = false;
        setStatus(row, decision === "confirm" ? "confirmed" : "rejected");
        body.setAttribute("data-last-decision", d.id);
        body.setAttribute("data-last-evidence", payload.evidence_id);
        body.setAttribute("data-last-evidence-url", row.getAttribute("data-href"));
        say("已记录 recorded #" + d.id);
        var n = nextUnreviewed(cur);
        if (n >= 0) { setCurrent(n); }
      }).catch(function (err) { busy = false; say("失败 failed: " + err.message); });
    }
    bindPicker(decide);
    setCurrent(rows.length ? Math.max(0, nextUnreviewed(-1)) : -1);
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) { return; }
      var k = e.key;
      if (rejecting) { pickReason(e, decide); return; }
      if (!rows.length) {
        if (k === "j" || k === "n") { go(body.getAttribute("data-next-url")); }
        return;
      }
      if (k === "j" || k === "n" || k === "s") {
        e.preventDefault();
        var i = nextUnreviewed(cur);
        if (i >= 0) { setCurrent(i); } else { say("没有待审 nothing unreviewed here"); }
      } else if (k === "k") { e.preventDefault(); setCurrent(Math.max(0, cur - 1)); }
      else if (k === "c") { e.preventDefault(); decide("confirm"); }
      else if (k === "r") { e.preventDefault(); if (cur >= 0) { showPicker(true); } }
      else if (k === "x") { e.preventDefault(); var cb = rows[cur] && rows[cur].querySelector("input.select"); if (cb) { cb.checked = !cb.checked; } }
      else if (k === "Enter" || k === "o") { e.preventDefault(); if (rows[cur]) { go(rows[cur].getAttribute("data-href")); } }
      else if (k === "u") { e.preventDefault(); undoLast(); }
    });
  }

  // --- any other page: j/n opens the next unreviewed item ---------------------------------
  function otherPage() {
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) { return; }
      if (e.key === "j" || e.key === "n") {
        var a = document.getElementById("next-unreviewed") || document.getElementById("next-qc");
        if (a) { e.preventDefault(); go(a.getAttribute("href")); }
      } else if (e.key === "u" && body.getAttribute("data-user")) { e.preventDefault(); undoLast(); }
    });
  }

  if (body.classList.contains("evidence-page")) { evidencePage(); }
  else if (body.classList.contains("queue-page")) { queuePage(); }
  else { otherPage(); }
})();
