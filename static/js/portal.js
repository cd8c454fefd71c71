// The portal's small helpers. The server checks everything again; these only spare a round trip
// or a second ticket from a double click.
(function () {
  "use strict";

  // A form marked data-submit-once sends once: its buttons are disabled while it goes.
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var refused = form.querySelector("input[type=file][data-refused]");
      if (refused) {
        event.preventDefault();
        refused.focus();
        return;
      }
      if (form.dataset.sending === "1") {
        event.preventDefault();
        return;
      }
      form.dataset.sending = "1";
      form.setAttribute("aria-busy", "true");
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.disabled = true;
      });
    });
  });
  // Back from the next page (the browser's page cache): the form may be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
      delete form.dataset.sending;
      form.removeAttribute("aria-busy");
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.disabled = false;
      });
    });
  });

  // A page shown again with errors: take the focus to the first field to fix.
  var invalid = document.querySelector("main .is-invalid, main .alert-danger");
  if (invalid) {
    if (!invalid.matches("input, select, textarea, button")) {
      invalid.setAttribute("tabindex", "-1");
    }
    invalid.focus();
  }

  // Attachments: say at once when there are too many files or one is too large.
  function sizeLabel(bytes) {
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.ceil(bytes / 1024) + " KB";
  }
  document.querySelectorAll("input[type=file][data-max-files]").forEach(function (input) {
    var note = document.createElement("div");
    note.className = "form-text text-danger";
    note.id = input.id + "_client_check";
    note.setAttribute("aria-live", "polite");
    input.insertAdjacentElement("afterend", note);
    input.addEventListener("change", function () {
      var maxFiles = parseInt(input.dataset.maxFiles, 10);
      var maxBytes = parseInt(input.dataset.maxBytes, 10);
      var problems = [];
      if (input.files.length > maxFiles) {
        problems.push("Attach at most " + maxFiles + " files (you chose " + input.files.length + ").");
      }
      Array.prototype.forEach.call(input.files, function (file) {
        if (file.size > maxBytes) {
          problems.push(file.name + " is too large: files may be up to " + sizeLabel(maxBytes) + ".");
        }
      });
      note.textContent = problems.join(" ");
      input.classList.toggle("is-invalid", problems.length > 0);
      if (problems.length) {
        input.dataset.refused = "1";
        var described = (input.getAttribute("aria-describedby") || "").split(" ");
        if (described.indexOf(note.id) < 0) {
          input.setAttribute("aria-describedby", described.concat([note.id]).join(" ").trim());
        }
      } else {
        delete input.dataset.refused;
      }
    });
  });
})();
