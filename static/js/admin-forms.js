// The admin pages' forms: adding rows to a table of rows (a Django formset) and asking
// before a destructive button. No inline scripts: the CSP allows only files from 'self'.
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-formset-add]");
  if (!button) return;
  const prefix = button.dataset.formsetAdd;
  const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
  const template = document.getElementById(`${prefix}-template`);
  const rows = document.getElementById(`${prefix}-rows`);
  if (!total || !template || !rows) return;
  const index = Number(total.value);
  rows.insertAdjacentHTML("beforeend", template.innerHTML.replaceAll("__prefix__", String(index)));
  total.value = String(index + 1);
  const first = rows.lastElementChild && rows.lastElementChild.querySelector("input, select");
  if (first) first.focus();
});

document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
