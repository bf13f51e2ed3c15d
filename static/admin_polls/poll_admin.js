// The admin's poll page: copy buttons for the embed snippets, and preview frames sized to fit.
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  const status = button.parentElement.querySelector(".embed-snippet__status");
  try {
    await navigator.clipboard.writeText(source.value);
  } catch {
    // No clipboard API (plain HTTP, old browser): select the text and use the old command.
    source.select();
    if (!document.execCommand("copy")) {
      if (status) status.textContent = "Press Ctrl+C (or ⌘C) to copy the selected text.";
      return;
    }
  }
  if (status) status.textContent = "Copied.";
});

function fitPreview(frame) {
  const doc = frame.contentDocument;
  if (doc && doc.documentElement) frame.style.height = doc.documentElement.scrollHeight + 4 + "px";
}

document.addEventListener("DOMContentLoaded", () => {
  for (const frame of document.querySelectorAll(".widget-preview__iframe")) {
    frame.addEventListener("load", () => fitPreview(frame));
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") fitPreview(frame);
  }
});

// Choices: "move up / move down" buttons beside each position, renumbering the positions 1, 2, 3
// in the order shown. Without JavaScript the position numbers do the same job.
function choiceRows(tbody) {
  return [...tbody.querySelectorAll("tr.form-row:not(.empty-form)")];
}

function renumberChoices(tbody) {
  let position = 1;
  for (const row of choiceRows(tbody)) {
    const positionInput = row.querySelector("td.field-position input");
    const textInput = row.querySelector("td.field-text input");
    if (positionInput && textInput && textInput.value.trim()) positionInput.value = position++;
  }
}

function addMoveButtons(row) {
  const cell = row.querySelector("td.field-position");
  if (!cell || row.classList.contains("empty-form") || cell.querySelector(".choice-move")) return;
  for (const [label, step] of [["Move up", -1], ["Move down", 1]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "choice-move";
    button.dataset.step = step;
    button.textContent = step < 0 ? "↑" : "↓";
    button.setAttribute("aria-label", label);
    button.title = label;
    cell.append(button);
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest(".choice-move");
  if (!button) return;
  const row = button.closest("tr");
  const rows = choiceRows(row.parentElement);
  const other = rows[rows.indexOf(row) + Number(button.dataset.step)];
  if (!other) return;
  if (Number(button.dataset.step) < 0) other.before(row);
  else other.after(row);
  renumberChoices(row.parentElement);
  button.focus();
});

// A new choice goes last: give it the next position when its text is first typed.
document.addEventListener("input", (event) => {
  const row = event.target.closest("#choices-group tr.form-row");
  if (!row || !event.target.closest("td.field-text")) return;
  const positionInput = row.querySelector("td.field-position input");
  if (!positionInput || Number(positionInput.value) > 0) return;
  const taken = choiceRows(row.parentElement)
    .map((other) => Number(other.querySelector("td.field-position input")?.value) || 0);
  positionInput.value = Math.max(0, ...taken) + 1;
});

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("#choices-group tr.form-row").forEach(addMoveButtons);
});
document.addEventListener("formset:added", (event) => addMoveButtons(event.target));

// A choice added with "Add another" comes after the others, not at position 0.
document.addEventListener("formset:added", (event) => {
  const position = event.target.querySelector('input[name$="-position"]');
  if (!position || !event.target.closest(".choice-inline")) return;
  const others = [...event.target.closest(".choice-inline").querySelectorAll('input[name$="-position"]')]
    .filter((input) => input !== position && !input.closest(".empty-form"))
    .map((input) => Number(input.value) || 0);
  position.value = Math.max(0, ...others) + 1;
});

// A draft's slug follows its question as it is typed, until the editor types a slug of their
// own (the form does the same on save, and makes the slug unique).
document.addEventListener("DOMContentLoaded", () => {
  const slug = document.querySelector("input[data-follows-question]");
  const question = document.getElementById("id_question");
  if (!slug || !question || typeof URLify !== "function") return;
  let typed = false;
  slug.addEventListener("input", () => { typed = true; });
  question.addEventListener("input", () => {
    if (!typed) slug.value = URLify(question.value, slug.maxLength > 0 ? slug.maxLength : 120, false);
  });
});
