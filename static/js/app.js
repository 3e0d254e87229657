// CareMonth page behaviour: no inline script anywhere (strict CSP), everything here.
(function () {
  "use strict";

  // Practice switcher: submit on change (the Switch button remains for no-JS use).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  // Running timer: the start instant comes from the server, so reloads and tabs agree.
  document.querySelectorAll("[data-timer-start]").forEach(function (el) {
    var start = parseInt(el.dataset.timerStart, 10) * 1000;
    function show() {
      var seconds = Math.max(0, Math.floor((Date.now() - start) / 1000));
      var m = Math.floor(seconds / 60), s = seconds % 60;
      el.textContent = m + ":" + (s < 10 ? "0" : "") + s + " (" + m + " min)";
    }
    show();
    setInterval(show, 1000);
  });

  // "Select all" boxes (claims review): the heading's box ticks its rows' boxes, and shows
  // whether all, some or none are ticked. Without JavaScript the server reads the heading's
  // box as "every row on this page".
  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    var rows = all.form.querySelectorAll("input[type=checkbox][name='" + all.dataset.selectAll + "']");
    function sync() {
      var ticked = Array.prototype.filter.call(rows, function (box) { return box.checked; }).length;
      all.checked = ticked > 0 && ticked === rows.length;
      all.indeterminate = ticked > 0 && ticked < rows.length;
    }
    all.addEventListener("change", function () {
      rows.forEach(function (box) { box.checked = all.checked; });
      all.indeterminate = false;
    });
    rows.forEach(function (box) { box.addEventListener("change", sync); });
    sync();
  });

  // Confirmation pages: Escape does what their Cancel link does (which works without JS).
  var cancel = document.querySelector("a[data-escape]");
  if (cancel) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !event.defaultPrevented) { window.location.assign(cancel.href); }
    });
  }

  // Tables too wide for the screen (a phone, a narrow window): such a table becomes a block
  // of labelled lines per row (CSS `.table.stacked`), each cell labelled with its column's
  // heading. Without this script it scrolls inside its card on a phone. Re-checked when htmx
  // swaps rows in and when the window's width changes.
  function label(table) {
    var heads = [];
    table.querySelectorAll("thead tr:last-child th, thead tr:last-child td").forEach(function (th) {
      // A heading holding a control (a select-all box) is no label for its cells.
      var text = th.querySelector("input, select, button") ? "" : th.textContent.trim();
      for (var i = 0; i < (th.colSpan || 1); i++) { heads.push(text); }
    });
    table.querySelectorAll("tbody tr, tfoot tr").forEach(function (tr) {
      var col = 0;
      Array.prototype.forEach.call(tr.cells, function (cell) {
        // A cell across the whole row ("No entries.") needs no label.
        var whole = (cell.colSpan || 1) >= heads.length;
        if (!cell.hasAttribute("data-label")) { cell.setAttribute("data-label", whole ? "" : heads[col] || ""); }
        col += cell.colSpan || 1;
      });
    });
  }
  function tooWide(table) {
    // On a phone the table scrolls inside itself (CSS); wider, it runs past its container.
    var edge = Math.min(document.documentElement.clientWidth, table.parentElement.getBoundingClientRect().right);
    return table.scrollWidth > table.clientWidth + 1 || table.getBoundingClientRect().right > edge + 1;
  }
  function stack() {
    document.querySelectorAll("table.table:not(.coverage)").forEach(function (table) {
      table.classList.remove("stacked");
      if (tooWide(table)) {
        label(table);
        table.classList.add("stacked");
      }
    });
  }
  stack();
  document.addEventListener("htmx:afterSettle", stack);
  var lastWidth = window.innerWidth, pending = false;
  window.addEventListener("resize", function () {
    if (pending || window.innerWidth === lastWidth) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; lastWidth = window.innerWidth; stack(); });
  });

  // Inactivity warning. The server signs the session out; this only warns before it does.
  var body = document.body;
  var timeout = parseInt(body.dataset.timeout || "0", 10);
  if (!timeout) { return; }
  var warningAt = parseInt(body.dataset.warning || "120", 10);
  var banner = document.getElementById("inactivity-warning");
  var countdown = banner.querySelector("[data-countdown]");
  var deadline = Date.now() + timeout * 1000;
  var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value ||
    JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];

  function signedOut() { window.location.reload(); }

  function refresh(remaining) {
    deadline = Date.now() + remaining * 1000;
  }

  function check() {
    // Another tab may have been active: ask the server (a passive request) before warning.
    return fetch(body.dataset.statusUrl, { credentials: "same-origin", redirect: "manual" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r); })
      .then(function (data) { refresh(data.remaining); if (data.remaining <= 0) { signedOut(); } })
      .catch(signedOut);
  }

  function showCountdown(left) {
    var m = Math.floor(Math.max(left, 0) / 60), s = Math.max(left, 0) % 60;
    countdown.textContent = m + ":" + (s < 10 ? "0" : "") + s;
  }

  function tick() {
    var left = Math.round((deadline - Date.now()) / 1000);
    if (left <= warningAt && banner.hidden) {
      check().then(function () {
        var again = Math.round((deadline - Date.now()) / 1000);
        if (again <= warningAt) {
          showCountdown(again);
          banner.hidden = false;
          banner.querySelector("button").focus();
        }
      });
    }
    if (!banner.hidden) {
      showCountdown(left);
      if (left <= 0) { check(); }
    }
  }

  banner.querySelector("[data-keepalive]").addEventListener("click", function () {
    fetch(body.dataset.keepaliveUrl, {
      method: "POST", credentials: "same-origin", redirect: "manual",
      headers: { "X-CSRFToken": csrf }
    }).then(function (r) { return r.ok ? r.json() : Promise.reject(r); })
      .then(function (data) { refresh(data.remaining); banner.hidden = true; })
      .catch(signedOut);
  });

  setInterval(tick, 1000);
})();
