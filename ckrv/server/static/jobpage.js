// The job page: the live log (EventSource on the job's SSE stream), drawn as a virtual list
// so 100,000 lines cost what one screenful does; follow and pause, search, jump to the first
// error; the status badge kept current; the diff fetched as a server-rendered fragment.
"use strict";

(() => {
  const LINE = 20;  // px, as in ckrv.css (.log .line)
  const ERROR = /\b(error|fatal|traceback|exception|failed)\b/i;
  const TERMINAL = ["succeeded", "failed", "timeout", "cancelled"];

  const box = document.getElementById("log");
  const job = document.getElementById("job");
  const lines = [];      // {n, level, source, text}
  let follow = true, hits = [], hitAt = -1, drawn = new Map(), scheduled = false;

  function schedule() {
    if (!scheduled) { scheduled = true; requestAnimationFrame(draw); }
  }

  function classOf(entry, index) {
    let c = "line";
    if (entry.level === "error" || (entry.level !== "info" && ERROR.test(entry.text))) c += " error";
    else if (entry.level === "warn" || entry.level === "warning") c += " warn";
    if (hits.length && hitSet.has(index)) c += index === hits[hitAt] ? " current" : " hit";
    return c;
  }
  let hitSet = new Set();

  function draw() {
    scheduled = false;
    if (!box) return;
    const rows = document.getElementById("log-rows");
    rows.style.height = (lines.length * LINE) + "px";
    if (follow) box.scrollTop = box.scrollHeight;
    const first = Math.max(0, Math.floor(box.scrollTop / LINE) - 20);
    const last = Math.min(lines.length, Math.ceil((box.scrollTop + box.clientHeight) / LINE) + 20);
    const keep = new Map();
    for (let i = first; i < last; i++) {
      let el = drawn.get(i);
      if (!el) {
        el = document.createElement("div");
        const number = document.createElement("span");
        number.className = "n";
        number.textContent = lines[i].n;
        el.appendChild(number);
        if (lines[i].source && lines[i].source !== box.dataset.agent) {
          const src = document.createElement("span");
          src.className = "src";
          src.textContent = lines[i].source + ": ";
          el.appendChild(src);
        }
        el.appendChild(document.createTextNode(lines[i].text));
        el.style.transform = "translateY(" + (i * LINE) + "px)";
        rows.appendChild(el);
      }
      el.className = classOf(lines[i], i);
      keep.set(i, el);
    }
    for (const [i, el] of drawn) if (!keep.has(i)) el.remove();
    drawn = keep;
    const count = document.getElementById("log-count");
    if (count) {
      count.textContent = hits.length ? (hitAt + 1) + " of " + hits.length + " matches"
        : lines.length + " lines";
    }
  }

  function showLine(index) {
    follow = false;
    setFollowButton();
    box.scrollTop = Math.max(0, index * LINE - box.clientHeight / 2);
    schedule();
  }

  function setFollowButton() {
    const button = document.getElementById("log-follow");
    if (!button) return;
    button.textContent = follow ? "Pause" : "Follow";
    button.setAttribute("aria-pressed", String(follow));
  }

  function search() {
    const query = document.getElementById("log-search").value.toLowerCase();
    hits = [];
    if (query) lines.forEach((l, i) => { if (l.text.toLowerCase().includes(query)) hits.push(i); });
    hitSet = new Set(hits);
    hitAt = hits.length ? 0 : -1;
    for (const [, el] of drawn) el.remove();
    drawn = new Map();
    if (hits.length) showLine(hits[0]); else schedule();
  }

  function step(by) {
    if (!hits.length) return;
    hitAt = (hitAt + by + hits.length) % hits.length;
    showLine(hits[hitAt]);
  }

  function setStatus(job_) {
    const badge = document.getElementById("job-status");
    if (!badge) return;
    badge.className = "badge s-" + job_.status;
    badge.textContent = job_.status + (job_.phase ? " · " + job_.phase : "");
    const before = job.dataset.status;
    job.dataset.status = job_.status;
    if (TERMINAL.includes(job_.status) && !TERMINAL.includes(before)) {
      // The card, the timeline and the diff are the server's to render: show them anew.
      setTimeout(() => location.reload(), 800);
    }
  }

  // The stored log first, a page at a time (each page one short task, however long the
  // log), then the live stream from where the pages ended.
  async function backlog() {
    const PAGE = 2000;
    let after = 0;
    for (;;) {
      let page;
      try {
        const answer = await fetch(box.dataset.backlog + "?limit=" + PAGE + "&after=" + after,
                                   { credentials: "same-origin", cache: "no-store" });
        if (!answer.ok) break;
        page = (await answer.json()).logs;
      } catch (e) { break; }
      for (const e of page) lines.push({ n: e.seq, level: e.level, source: e.source, text: e.message });
      if (page.length) {
        after = page[page.length - 1].seq;
        const empty = document.getElementById("log-empty");
        if (empty) empty.remove();
        schedule();
      }
      if (page.length < PAGE) break;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return after;
  }

  async function connect() {
    if (!box) return;
    const after = await backlog();
    const source = new EventSource(box.dataset.events + "?after=" + after);
    let pending = [];
    source.addEventListener("log", (event) => {
      const e = JSON.parse(event.data);
      pending.push({ n: e.seq, level: e.level, source: e.source, text: e.message });
      if (pending.length === 1) setTimeout(flush, 50);  // one draw per batch of lines
    });
    function flush() {
      const empty = document.getElementById("log-empty");
      if (empty) empty.remove();
      for (const p of pending) lines.push(p);
      pending = [];
      schedule();
    }
    source.addEventListener("status", (event) => setStatus(JSON.parse(event.data)));
    source.addEventListener("message", (event) => {
      if (event.data === "[DONE]") {
        source.close();
        flush();
        const empty = document.getElementById("log-empty");
        if (empty && !lines.length) empty.textContent = "The job wrote no log lines.";
      }
    });
  }

  function wireLog() {
    if (!box) return;
    box.addEventListener("scroll", () => {
      const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - LINE;
      if (follow && !atEnd && !scheduled) { follow = false; setFollowButton(); }
      schedule();
    });
    document.getElementById("log-follow").addEventListener("click", () => {
      follow = !follow; setFollowButton(); schedule();
    });
    const field = document.getElementById("log-search");
    field.addEventListener("change", search);
    field.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); if (hits.length) step(e.shiftKey ? -1 : 1); else search(); }
    });
    document.getElementById("log-next").addEventListener("click", () => { if (!hits.length) search(); else step(1); });
    document.getElementById("log-prev").addEventListener("click", () => step(-1));
    document.getElementById("log-error").addEventListener("click", () => {
      const index = lines.findIndex((l, i) => classOf(l, i).includes("error"));
      const count = document.getElementById("log-count");
      if (index >= 0) showLine(index); else if (count) count.textContent = "No error lines";
    });
  }

  async function loadDiff() {
    const holder = document.getElementById("diff");
    if (!holder || !holder.dataset.src) return;
    const answer = await fetch(holder.dataset.src, { credentials: "same-origin" });
    if (answer.ok) {
      holder.innerHTML = await answer.text();  // rendered and escaped by the server
      holder.addEventListener("click", async (event) => {
        const link = event.target.closest("a[data-view]");
        if (!link) return;
        event.preventDefault();
        const view = link.dataset.view === "split" ? "&view=split" : "";
        holder.dataset.src = holder.dataset.src.replace(/&view=split$/, "") + view;
        const again = await fetch(holder.dataset.src, { credentials: "same-origin" });
        if (again.ok) holder.innerHTML = await again.text();
      }, { once: false });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    wireLog();
    connect();
    loadDiff();
    window.ckrvLog = { lines, draw: schedule };  // for the tests and the benchmark
  });
})();
