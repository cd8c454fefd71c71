// A ticket list: j/k to move, o or Enter to open, x to select; select all; the bulk bar.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("table[data-keyboard-list] tbody tr[data-href]"));
  var current = -1;

  function focusRow(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, j) { r.classList.toggle("row-focus", j === current); });
    var link = rows[current].querySelector("a.ticket-link");
    if (link) link.focus({ preventScroll: false });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input:not([type=checkbox]), textarea, select")) return;
    if (event.key === "j") { focusRow(current + 1); event.preventDefault(); }
    else if (event.key === "k") { focusRow(current - 1); event.preventDefault(); }
    else if ((event.key === "o" || event.key === "Enter") && current >= 0 && event.target.tagName !== "A") {
      window.location.href = rows[current].getAttribute("data-href"); event.preventDefault();
    } else if (event.key === "x" && current >= 0) {
      var box = rows[current].querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
      event.preventDefault();
    }
  });

  var all = document.querySelector("[data-select-all]");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=tickets]").forEach(function (box) { box.checked = all.checked; });
    });
  }

  var bar = document.getElementById("bulk-form");
  var action = document.getElementById("bulk-action");
  if (bar && action) {
    var show = function () { bar.setAttribute("data-action", action.value); };
    action.addEventListener("change", show);
    show();
  }
})();
