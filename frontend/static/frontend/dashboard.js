// The job dashboard: live progress, per-worker statistics, and the review queue (accept, send back, and for
// ties: pick an answer, then accept). Reads and writes go through the REST API.
import { api, announce } from "./api.js";

const config = JSON.parse(document.getElementById("job-config").textContent);
const $ = (id) => document.getElementById(id);
const POLL_MS = 4000;
const STATUS_TEXT = { in_progress: "In progress", completed: "Completed", expired: "Expired" };
let lastStatus = null;
let reviewNext = null;

// --- progress -----------------------------------------------------------------------------------------------

function renderProgress(job) {
  const p = job.progress;
  const total = p.images || 1;
  const bar = $("progress-bar");
  const [done, review, busy] = bar.children;
  done.style.width = `${(100 * p.completed) / total}%`;
  review.style.width = `${(100 * p.review) / total}%`;
  busy.style.width = `${(100 * p.in_progress) / total}%`;
  bar.setAttribute("aria-label", `${p.completed} of ${p.images} images done, ${p.review} in review, ${p.in_progress} in progress`);
  $("stat-images").textContent = p.images;
  $("stat-completed").textContent = p.completed;
  $("stat-in-progress").textContent = p.in_progress;
  $("stat-review").textContent = p.review;
  const status = $("job-status");
  status.textContent = STATUS_TEXT[job.status] || job.status;
  status.className = `status status-${job.status}`;
  if (lastStatus && lastStatus !== job.status && job.status === "completed") {
    announce("The job is complete: every image has its result.", "success");
  }
  lastStatus = job.status;
}

// --- workers ------------------------------------------------------------------------------------------------

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderWorkers(rows) {
  const body = $("workers-body");
  if (!rows.length) {
    const row = document.createElement("tr");
    row.append(cell("No answers yet.", "muted"));
    row.firstChild.colSpan = 4;
    body.replaceChildren(row);
    return;
  }
  body.replaceChildren(...rows.map((r) => {
    const row = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = r.worker.username;
    row.append(
      name,
      cell(String(r.answered), "num"),
      cell(r.median_seconds === null ? "–" : `${r.median_seconds.toFixed(1)} s`, "num"),
      cell(r.agreement === null ? "–" : `${Math.round(r.agreement * 100)} %`, "num"),
    );
    return row;
  }));
}

async function refresh() {
  try {
    const job = await api(`jobs/${config.jobId}/`);
    renderProgress(job);
    if (config.canReview) renderWorkers(await api(`jobs/${config.jobId}/workers/`));
  } catch (error) {
    announce(`Could not refresh: ${error.message}`, "error");
  }
}

// --- review -------------------------------------------------------------------------------------------------

function describe(answer) {
  if (!answer) return "no result";
  if (answer.labels) return answer.labels.length ? answer.labels.join(", ") : "(no label)";
  if (answer.boxes) {
    const names = answer.boxes.map((b) => b.label);
    return `${answer.boxes.length} box${answer.boxes.length === 1 ? "" : "es"}${names.length ? `: ${names.join(", ")}` : ""}`;
  }
  if ("verdict" in answer) {
    const comment = answer.comment || answer.comments;
    return `${answer.verdict ? "yes, correct" : "no, wrong"}${comment ? ` (“${comment}”)` : ""}`;
  }
  return JSON.stringify(answer);
}

// The body an accept sends for a chosen worker's answer, in the job's task-type shape.
function acceptBody(answer) {
  if (answer.labels) return { labels: answer.labels };
  if (answer.boxes) return { boxes: answer.boxes.map(({ label, left, top, width, height }) => ({ label, left, top, width, height })) };
  return { verdict: answer.verdict };
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function reviewCard(task) {
  const name = task.image.source_ref.split("/").pop();
  const card = el("li", { className: "review-card" });
  card.dataset.taskId = task.id;
  const thumb = el("div", { className: "thumb" });
  const src = task.image.thumbnail_url || task.image.image_url;
  thumb.append(src ? el("img", { src, alt: name, loading: "lazy" }) : el("span", { className: "no-thumb", textContent: "No preview" }));
  const body = el("div", { className: "review-body" });
  body.append(el("p", { className: "file", textContent: name, title: task.image.source_ref }));
  const result = el("p", { className: "result" });
  // Images in review have no clear result (a tie, a half split): the reviewer picks one worker's answer.
  const tie = task.status === "review";
  result.append(el("strong", { textContent: "Result: " }), tie ? "undecided — pick an answer" : describe(task.result));
  if (!tie && task.confidence !== null && task.confidence !== undefined) {
    result.append(el("span", { className: "muted", textContent: ` · confidence ${Math.round(task.confidence * 100)} %` }));
  }
  body.append(result);
  const answers = el("ul", { className: "answers" });
  const group = `pick-${task.id}`;
  (task.answers || []).forEach((a, index) => {
    const text = `${a.worker.username}: ${describe(a.answer)}`;
    if (tie && config.canAccept) {
      const input = el("input", { type: "radio", name: group, value: String(index), id: `${group}-${index}` });
      answers.append(el("li", {}, el("label", { className: "check", htmlFor: input.id }, input, ` ${text}`)));
    } else {
      answers.append(el("li", { textContent: text }));
    }
  });
  body.append(answers);
  if (config.canAccept && task.status !== "accepted") {
    const accept = el("button", { type: "button", className: "btn primary-btn", textContent: tie ? "Accept picked answer" : "Accept" });
    accept.setAttribute("aria-label", `${tie ? "Accept the picked answer for" : "Accept"} ${name}`);
    accept.addEventListener("click", async () => {
      let json = {};
      if (tie) {
        const chosen = card.querySelector(`input[name="${group}"]:checked`);
        if (!chosen) {
          announce("Pick one of the answers first.", "error");
          card.querySelector(`input[name="${group}"]`)?.focus();
          return;
        }
        json = acceptBody(task.answers[Number(chosen.value)].answer);
      }
      await act(card, `tasks/${task.id}/accept/`, json, `Accepted ${name}.`);
    });
    const back = el("button", { type: "button", className: "btn", textContent: "Send back" });
    back.setAttribute("aria-label", `Send ${name} back to the workers`);
    back.addEventListener("click", () => act(card, `tasks/${task.id}/send-back/`, {}, `Sent ${name} back to the queue.`));
    body.append(el("div", { className: "review-actions" }, accept, back));
  }
  card.append(thumb, body);
  return card;
}

async function act(card, path, json, message) {
  for (const button of card.querySelectorAll("button")) button.disabled = true;
  try {
    await api(path, { method: "POST", json });
    card.remove();
    $("review-empty").hidden = $("review-list").children.length > 0;
    announce(message, "success");
    refresh();
  } catch (error) {
    for (const button of card.querySelectorAll("button")) button.disabled = false;
    announce(`Not done: ${error.message}`, "error");
  }
}

async function loadReview(more = false) {
  const list = $("review-list");
  const path = more && reviewNext
    ? (() => { const u = new URL(reviewNext, window.location.href); return `${u.pathname}${u.search}`; })()
    : `jobs/${config.jobId}/review/?status=${$("review-status").value}&page_size=24`;
  try {
    const page = await api(path);
    if (!more) list.replaceChildren();
    list.append(...page.results.map(reviewCard));
    reviewNext = page.next;
    $("review-more").hidden = !reviewNext;
    $("review-empty").hidden = list.children.length > 0;
  } catch (error) {
    announce(`Could not load the review queue: ${error.message}`, "error");
  }
}

refresh();
setInterval(refresh, POLL_MS);
if (config.canReview) {
  loadReview();
  $("review-status").addEventListener("change", () => loadReview());
  $("review-more").addEventListener("click", () => loadReview(true));
}
