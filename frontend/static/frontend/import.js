// The live page of an import: polls GET /api/v1/imports/{id}/ until the job ends, shows counts, rate and
// (when the worker knows how much is left) the time left, lists the first line errors, and can cancel it.
import { api, announce } from "./api.js";

const root = document.getElementById("import");
const jobId = root.dataset.import;
const bar = document.getElementById("progress");
const statusBadge = document.getElementById("import-status");
const outcome = document.getElementById("outcome");
const cancelButton = document.getElementById("cancel");
const FINISHED = new Set(["succeeded", "failed", "canceled"]);
const POLL_MS = 1000;
const STATUS_LABEL = { queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed", canceled: "Canceled" };
let shownErrors = -1;

const number = new Intl.NumberFormat();

function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const PHASE_LABEL = {
  queued: "Waiting for a worker",
  reading: "Reading the manifest",
  listing: "Listing the S3 folder",
  probing: "Checking the images",
  copying: "Copying",
};
let phaseStart = null; // {phase, at, done}: where the current phase was first seen, for its rate

// The bar and the time left follow the current phase when its total is known (bytes of a manifest, images
// to probe); a listing or a copy has no total, so the bar then moves without a percentage.
function showPhase(progress) {
  const now = Date.now();
  if (!phaseStart || phaseStart.phase !== progress.phase) phaseStart = { phase: progress.phase, at: now, done: progress.done || 0 };
  document.getElementById("phase").textContent = PHASE_LABEL[progress.phase] || progress.phase;
  const eta = document.getElementById("eta");
  if (progress.fraction === null) {
    bar.dataset.running = "";
    bar.removeAttribute("aria-valuenow");
    bar.querySelector(".bar").style.width = "";
    eta.textContent = "—";
    return;
  }
  const percent = Math.round(progress.fraction * 100);
  bar.removeAttribute("data-running");
  bar.setAttribute("aria-valuenow", String(percent));
  bar.querySelector(".bar").style.width = `${percent}%`;
  const seconds = (now - phaseStart.at) / 1000;
  const rate = seconds > 0 ? (progress.done - phaseStart.done) / seconds : 0;
  eta.textContent = rate > 0 ? duration((progress.total - progress.done) / rate) : "—";
}

function render(job) {
  const { seen, imported, skipped, failed } = job.counts;
  for (const [key, value] of Object.entries(job.counts)) {
    document.getElementById(`count-${key}`).textContent = number.format(value);
  }
  statusBadge.textContent = STATUS_LABEL[job.status] || job.status;
  statusBadge.className = `status status-${job.status}`;
  root.dataset.status = job.status;

  const started = job.started_at ? Date.parse(job.started_at) : null;
  const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
  const elapsed = started ? (end - started) / 1000 : 0;
  const done = imported + skipped + failed;
  document.getElementById("rate").textContent =
    elapsed > 0 && seen > 0 ? `${number.format(Math.round(seen / elapsed))} images/s` : "—";

  if (FINISHED.has(job.status)) {
    bar.removeAttribute("data-running");
    bar.dataset.done = "";
    bar.setAttribute("aria-valuenow", "100");
    bar.dataset.outcome = job.status;
    document.getElementById("eta").textContent = "done";
    document.getElementById("phase").textContent = "Finished";
    bar.querySelector(".bar").style.width = "";
    if (cancelButton) cancelButton.hidden = true;
    const messages = {
      succeeded: `Import finished: ${number.format(imported)} images imported, ${number.format(skipped)} skipped, ${number.format(failed)} failed.`,
      failed: `Import failed: ${job.error ? job.error.message : "see the errors below"}. Nothing was added.`,
      canceled: `Import canceled. The ${number.format(imported)} images imported before the cancel are kept.`,
    };
    outcome.textContent = messages[job.status];
    outcome.dataset.kind = job.status;
    outcome.hidden = false;
    announce(messages[job.status], job.status === "succeeded" ? "success" : "error");
  } else {
    showPhase(job.progress);
  }
  return job.counts.skipped + job.counts.failed;
}

async function loadErrors() {
  const page = await api(`imports/${jobId}/errors/?page_size=100`);
  const rows = document.getElementById("error-rows");
  rows.replaceChildren(
    ...page.results.map((error) => {
      const tr = document.createElement("tr");
      for (const [value, cls] of [[error.line ?? "", "num"], [error.source_ref, "ref"], [error.code, "code"], [error.message, ""]]) {
        const td = document.createElement("td");
        td.textContent = value;
        if (cls) td.className = cls;
        tr.append(td);
      }
      return tr;
    }),
  );
  document.getElementById("errors-table").hidden = page.results.length === 0;
  document.getElementById("errors-empty").hidden = page.results.length > 0;
  document.getElementById("errors-more").hidden = !page.next;
}

async function poll() {
  try {
    const job = await api(`imports/${jobId}/`);
    const problems = render(job);
    if (problems !== shownErrors || FINISHED.has(job.status)) {
      shownErrors = problems;
      await loadErrors();
    }
    if (!FINISHED.has(job.status)) setTimeout(poll, POLL_MS);
  } catch (error) {
    announce(`${error.message} Retrying…`, "error");
    setTimeout(poll, POLL_MS * 3);
  }
}

if (cancelButton) {
  cancelButton.addEventListener("click", async () => {
    cancelButton.disabled = true;
    try {
      render(await api(`imports/${jobId}/cancel/`, { method: "POST" }));
      announce("Cancel requested: the import stops after its current batch.");
    } catch (error) {
      announce(error.message, "error");
      cancelButton.disabled = false;
    }
  });
}

poll();
