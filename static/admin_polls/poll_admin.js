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
