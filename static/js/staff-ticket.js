// The ticket page: canned responses into the reply, the reply lock, the transfer form's
// agent list, and r/n to start a reply or a note.
(function () {
  "use strict";

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // Canned responses: the bodies come expanded for this ticket.
  var canned = {};
  var data = document.getElementById("canned-data");
  if (data) { canned = JSON.parse(data.textContent); }
  var body = document.getElementById("id_reply-body");
  var pick = document.getElementById("id_reply-canned");
  if (pick && body) {
    pick.addEventListener("change", function () {
      var text = canned[pick.value];
      if (!text) return;
      var start = body.selectionStart || body.value.length;
      body.value = body.value.slice(0, start) + text + body.value.slice(body.selectionEnd || start);
      body.focus();
      pick.value = "";
      body.dispatchEvent(new Event("input"));
    });
  }

  // The reply lock: taken when the agent starts writing, renewed while they type, released
  // when they leave with nothing written. Others see who holds it.
  var form = document.getElementById("reply-form");
  var banner = document.getElementById("lock-banner");
  var lastRenew = 0;

  function show(state) {
    if (!banner || !state) return;
    if (state.holder) {
      banner.textContent = state.holder + " is writing a reply to this ticket.";
      banner.classList.remove("d-none");
    } else {
      banner.textContent = "";
      banner.classList.add("d-none");
    }
  }

  function post(url) {
    var formData = new FormData();
    formData.append("csrfmiddlewaretoken", csrf());
    return fetch(url, { method: "POST", body: formData, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }

  if (form && body) {
    var lockUrl = form.getAttribute("data-lock-url");
    var releaseUrl = form.getAttribute("data-release-url");
    var renew = function () {
      var now = Date.now();
      if (now - lastRenew < 30000) return;
      lastRenew = now;
      post(lockUrl).then(show);
    };
    body.addEventListener("focus", renew);
    body.addEventListener("input", renew);
    setInterval(function () {
      if (document.hidden) return;
      fetch(lockUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(show)
        .catch(function () {});
    }, 20000);
    window.addEventListener("pagehide", function () {
      if (lastRenew && !body.value.trim() && navigator.sendBeacon) {
        var formData = new FormData();
        formData.append("csrfmiddlewaretoken", csrf());
        navigator.sendBeacon(releaseUrl, formData);
      }
    });
  }

  // Transfer: list only the agents who can take tickets of the chosen department.
  var holdsData = document.getElementById("transfer-holds");
  var department = document.getElementById("id_transfer-department");
  var assignee = document.getElementById("id_transfer-assignee");
  if (holdsData && department && assignee) {
    var holds = JSON.parse(holdsData.textContent);
    var narrow = function () {
      var chosen = parseInt(department.value, 10);
      Array.prototype.forEach.call(assignee.options, function (option) {
        if (!option.value) return;
        var ok = !chosen || (holds[option.value] || []).indexOf(chosen) !== -1;
        option.hidden = !ok;
        option.disabled = !ok;
        if (!ok && option.selected) assignee.value = "";
      });
    };
    department.addEventListener("change", narrow);
    narrow();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select")) return;
    var tab = { r: "tab-reply", n: "tab-note" }[event.key];
    if (!tab) return;
    var button = document.getElementById(tab);
    if (!button) return;
    if (window.bootstrap) { window.bootstrap.Tab.getOrCreateInstance(button).show(); }
    var field = document.getElementById(event.key === "r" ? "id_reply-body" : "id_note-body");
    if (field) { field.focus(); field.scrollIntoView({ block: "center" }); }
    event.preventDefault();
  });
})();
