// Every staff page: due instants as live countdowns, and the keyboard shortcuts.
(function () {
  "use strict";

  function countdown(el) {
    var due = Date.parse(el.getAttribute("datetime"));
    if (isNaN(due)) return;
    var left = Math.round((due - Date.now()) / 60000);
    var late = left < 0;
    var m = Math.abs(left);
    var d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60), mm = m % 60;
    var text = d ? d + "d " + h + "h" : h ? h + "h " + mm + "m" : mm + "m";
    el.textContent = late ? text + " overdue" : "in " + text;
    el.classList.toggle("countdown-overdue", late);
    el.classList.toggle("countdown-soon", !late && left < 60);
    if (!el.title) el.title = el.getAttribute("datetime");
  }

  function tick() {
    document.querySelectorAll("time[data-countdown]").forEach(countdown);
  }
  tick();
  setInterval(tick, 30000);

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  var prefix = null;
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (prefix === "g") {
      prefix = null;
      var nav = { d: "/staff/dashboard/", q: "/staff/" }[event.key];
      if (nav) { window.location.href = nav; event.preventDefault(); }
      return;
    }
    if (event.key === "g") { prefix = "g"; setTimeout(function () { prefix = null; }, 1000); return; }
    if (event.key === "/") {
      var search = document.getElementById("staff-search");
      if (search) { search.focus(); search.select(); event.preventDefault(); }
    } else if (event.key === "?") {
      var help = document.getElementById("shortcuts");
      if (help && window.bootstrap) { window.bootstrap.Modal.getOrCreateInstance(help).show(); }
    }
  });
})();
