// The new-job form: the spec's preview without leaving the page (the server renders the
// Markdown, sanitized), and an uploaded spec shown in the editor.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("newjob");
  const button = document.getElementById("preview-button");
  const box = document.getElementById("preview-box");
  const target = document.getElementById("preview");
  const spec = document.getElementById("spec");
  const file = document.getElementById("spec-file");
  if (!form || !button) return;
  // With script the preview is fetched in place, so the button leaves the form's submit
  // buttons: Enter in a field then starts the job instead of previewing (the first submit
  // button is the one Enter presses).
  button.type = "button";
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    const body = new FormData();
    body.append("csrf_token", form.elements["csrf_token"].value);
    body.append("spec_content", spec.value);
    const answer = await fetch("/jobs/preview", { method: "POST", body, credentials: "same-origin" });
    if (answer.ok) {
      target.innerHTML = await answer.text();  // rendered by markdown-it-py, raw HTML off
      box.hidden = false;
    }
  });
  file.addEventListener("change", async () => {
    if (file.files.length) {
      spec.value = await file.files[0].text();
      file.value = "";  // the editor holds it now
    }
  });
});
