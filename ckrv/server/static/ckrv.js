// ckrv's shared script: times shown relative to now, copy buttons, and the live rows of the
// jobs list. Our own code, loaded from this server only (the pages allow no other script).
"use strict";

const ckrv = (() => {
  function ago(seconds) {
    if (seconds < 45) return "just now";
    if (seconds < 90) return "1 min ago";
    if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.round(seconds / 3600) + " h ago";
    return Math.round(seconds / 86400) + " d ago";
  }

  function span(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + " s";
    const m = Math.floor(seconds / 60), s = seconds % 60;
    if (m < 60) return m + " min " + s + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  function refreshTimes(root) {
    const now = Date.now();
    for (const el of root.querySelectorAll("time[data-age]")) {
      const t = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(t)) { el.textContent = ago((now - t) / 1000); el.title = el.getAttribute("datetime"); }
    }
    for (const el of root.querySelectorAll("time[data-since]")) {
      const t = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(t)) el.textContent = span((now - t) / 1000);
    }
    for (const el of root.querySelectorAll("[data-seconds]")) {
      el.textContent = span(parseFloat(el.dataset.seconds));
    }
  }

  function copyButtons(root) {
    for (const button of root.querySelectorAll("button[data-copy]")) {
      button.addEventListener("click", async () => {
        const text = button.dataset.copy;
        try {
          await navigator.clipboard.writeText(text);
          button.textContent = "Copied";
        } catch (e) {
          const field = document.getElementById(button.getAttribute("aria-controls"));
          if (field) { field.focus(); field.select(); }
          button.textContent = "Press Ctrl+C";
        }
        setTimeout(() => { button.textContent = button.dataset.label || "Copy"; }, 2000);
      });
    }
  }

  // The jobs list: ask for the first page's rows every few seconds; 304 while unchanged.
  function liveRows() {
    const table = document.querySelector("table[data-rows]");
    if (!table) return;
    const body = document.getElementById("job-rows");
    const status = document.getElementById("jobs-live");
    let etag = null;
    async function poll() {
      if (document.hidden) return;
      const headers = etag ? { "If-None-Match": etag } : {};
      try {
        const answer = await fetch(table.dataset.rows, { headers, cache: "no-store", credentials: "same-origin" });
        if (answer.status === 200) {
          const fresh = answer.headers.get("ETag");
          const html = await answer.text();
          if (etag !== null && fresh !== etag) {
            body.innerHTML = html;  // rendered and escaped by the server's templates
            refreshTimes(body);
            if (status) status.textContent = "Jobs updated";
          }
          etag = fresh;
        }
      } catch (e) { /* the server is restarting: try again next time */ }
    }
    poll();
    setInterval(poll, 3000);
  }

  function start() {
    refreshTimes(document);
    setInterval(() => refreshTimes(document), 1000);
    copyButtons(document);
    liveRows();
  }

  return { start, refreshTimes, span };
})();

document.addEventListener("DOMContentLoaded", ckrv.start);
