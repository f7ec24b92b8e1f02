// The annotator workbench: take the next image of a job's queue, answer it, submit, and the next one comes.
// Classification (one label), multi-label (several), bounding boxes (the box tool), verification (yes/no).
// Everything works from the keyboard: 1-9 labels, y/n verdicts, Enter submits, s or Esc skips.
import { api, announce } from "./api.js";
import { toStored, toUpright, uprightSize } from "./boxes.js";
import { colorOf } from "./svg.js";
import { BoxTool, drawBoxes } from "./workbench_boxes.js";

const config = JSON.parse(document.getElementById("workbench-config").textContent);
const $ = (id) => document.getElementById(id);
const type = config.taskType;
const labels = config.labels;

let work = null; // the current lease, as `POST /jobs/{id}/next/` answered it
let entry = null; // the dataset entry (orientation, current labels) for box and verification tasks
let picked = new Set(); // chosen label names (classification, multi-label)
let verdict = null;
let boxLabel = labels[0];
let busy = false;
let submitted = 0;
let deadline = 0;
let timer = null;
let size = [0, 0];

const tool = type === "bounding_box"
  ? new BoxTool($("overlay"), { label: () => boxLabel, onChange: renderBoxList })
  : null;

// --- screens ------------------------------------------------------------------------------------------------

function show(screen) {
  $("start-screen").hidden = screen !== "start";
  $("work").hidden = screen !== "work";
  $("done-screen").hidden = screen !== "done";
  if (screen !== "work") stopCountdown();
}

function finished(text) {
  work = null;
  $("done-text").textContent = text;
  show("done");
  $("done-screen").focus();
}

// --- answer controls ----------------------------------------------------------------------------------------

function renderLabelButtons() {
  const group = $("label-buttons");
  if (!group) return;
  group.replaceChildren(...labels.map((label, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn label-btn";
    button.dataset.label = label;
    button.style.setProperty("--label-color", colorOf(label));
    const on = type === "bounding_box" ? label === boxLabel : picked.has(label);
    button.setAttribute("aria-pressed", String(on));
    if (index < 9) {
      button.setAttribute("aria-keyshortcuts", String(index + 1));
      const key = document.createElement("kbd");
      key.textContent = String(index + 1);
      button.append(key, " ");
    }
    button.append(label);
    button.addEventListener("click", () => pick(index));
    return button;
  }));
  if ($("box-label-current")) $("box-label-current").textContent = boxLabel;
}

function pick(index) {
  const label = labels[index];
  if (!work || label === undefined) return;
  if (type === "classification") {
    picked = new Set([label]);
  } else if (type === "multi_label") {
    if (picked.has(label)) picked.delete(label);
    else picked.add(label);
  } else if (type === "bounding_box") {
    boxLabel = label;
    announce(`New boxes: ${label}.`);
  }
  renderLabelButtons();
}

function setVerdict(value) {
  if (!work) return;
  verdict = value;
  $("verdict-yes").setAttribute("aria-pressed", String(value === true));
  $("verdict-no").setAttribute("aria-pressed", String(value === false));
}

function renderBoxList(boxes) {
  $("box-count").textContent = `(${boxes.length})`;
  $("box-list").replaceChildren(...boxes.map((box, index) => {
    const item = document.createElement("li");
    item.className = index === tool.selected ? "selected" : "";
    item.style.setProperty("--box-color", colorOf(box.label));
    const pickBox = document.createElement("button");
    pickBox.type = "button";
    pickBox.className = "box-pick";
    pickBox.textContent = `${index + 1} ${box.label} · ${box.width}×${box.height}`;
    pickBox.setAttribute("aria-label", `Select box ${index + 1}: ${box.label}, ${box.width} by ${box.height}`);
    pickBox.addEventListener("click", () => tool.select(index));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "icon-btn danger";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Delete box ${index + 1}`);
    remove.addEventListener("click", () => tool.remove(index));
    item.append(pickBox, remove);
    return item;
  }));
}

function renderVerifyLabels() {
  const place = $("current-labels");
  const names = entry ? [...entry.labels, ...entry.boxes.map((b) => `box: ${b.label}`)] : [];
  const asked = names.length ? names : ["(no labels)"];
  place.replaceChildren(...asked.map((name) => Object.assign(document.createElement("span"), { className: "chip big-chip", textContent: name })));
}

// --- the image ----------------------------------------------------------------------------------------------

function fit() {
  const [W, H] = size;
  if (!W || !H) return;
  const room = $("stage").getBoundingClientRect();
  const scale = Math.min((room.width - 24) / W, (room.height - 24) / H);
  $("canvas").style.width = `${Math.floor(W * scale)}px`;
  $("canvas").style.height = `${Math.floor(H * scale)}px`;
}

function showImage() {
  const photo = $("photo");
  const overlay = $("overlay");
  overlay.replaceChildren();
  const url = work.image.image_url;
  $("no-image").hidden = Boolean(url);
  $("canvas").hidden = !url;
  if (!url) return;
  photo.alt = `Image ${work.image.id} to label`;
  const known = entry && entry.width && entry.height;
  const setSize = (W, H) => {
    size = [W, H];
    overlay.setAttribute("viewBox", `0 0 ${W} ${H}`);
    overlay.setAttribute("preserveAspectRatio", "none");
    fit();
    if (tool) tool.reset(W, H);
    if (type === "verification" && entry && entry.boxes.length) {
      drawBoxes(overlay, entry.boxes.map((b) => toUpright(b, entry.width, entry.height, entry.orientation || 1)), W);
    }
  };
  if (known) setSize(...uprightSize(entry.width, entry.height, entry.orientation || 1));
  // The browser shows the photo upright (EXIF); its natural size is then the upright size.
  photo.removeAttribute("src"); // the last image must not stand in for this one while it loads
  photo.onload = () => { if (!known) setSize(photo.naturalWidth, photo.naturalHeight); };
  photo.src = url;
}

window.addEventListener("resize", fit);

// --- the lease countdown ------------------------------------------------------------------------------------

function stopCountdown() {
  clearInterval(timer);
  timer = null;
  $("countdown").hidden = true;
}

function tick() {
  const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
  const clock = $("countdown");
  clock.hidden = false;
  clock.classList.toggle("low", left <= 30);
  clock.classList.toggle("out", left === 0);
  if (left === 0) {
    clock.textContent = "Time is up";
    clock.setAttribute("aria-label", "Time is up for this image");
    stopTimerOnly();
    announce("The time for this image ran out: an answer now would not count. Press S for the next image.", "error");
    return;
  }
  const text = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  clock.textContent = text;
  clock.setAttribute("aria-label", `${text} left for this image`);
}

function stopTimerOnly() {
  clearInterval(timer);
  timer = null;
}

function startCountdown() {
  stopTimerOnly();
  deadline = Date.parse(work.expires_at);
  tick();
  timer = setInterval(tick, 1000);
}

// --- the queue ----------------------------------------------------------------------------------------------

function setBusy(value) {
  busy = value;
  $("work").setAttribute("aria-busy", String(value));
}

async function loadNext() {
  setBusy(true);
  const previous = work;
  try {
    work = await api(`jobs/${config.jobId}/next/`, { method: "POST" });
  } catch (error) {
    setBusy(false);
    work = null;
    if (error.code === "job_expired") return finished("This job's time is over: it hands out no more work.");
    if (error.code === "not_in_team") return finished("You are not in this job's team, so it has no work for you.");
    announce(`No new image: ${error.message}`, "error");
    return show("start");
  }
  if (work === null) {
    setBusy(false);
    return finished("Every image of this job has its answers, or is being answered by others. Thank you!");
  }
  entry = null;
  if (type === "bounding_box" || type === "verification") {
    try {
      entry = await api(`datasets/${config.datasetId}/entries/${work.image.id}/`);
    } catch {
      entry = null; // the image still shows; boxes are then in the frame the browser shows
    }
  }
  if (previous && previous.task === work.task) announce("This image came back: it is the only one left for you.");
  picked = new Set();
  verdict = null;
  if (type === "verification") {
    setVerdict(null);
    $("comment").value = "";
    renderVerifyLabels();
  }
  show("work");
  renderLabelButtons();
  showImage();
  if (tool) renderBoxList([]);
  startCountdown();
  $("stage").focus({ preventScroll: true });
  setBusy(false);
}

function answer() {
  if (type === "classification") {
    if (picked.size !== 1) return null;
    return { labels: [...picked] };
  }
  if (type === "multi_label") return { labels: [...picked] };
  if (type === "bounding_box") {
    return {
      boxes: tool.boxes.map((box) => {
        const stored = entry && entry.width ? toStored(box, entry.width, entry.height, entry.orientation || 1) : box;
        return { label: box.label, left: stored.left, top: stored.top, width: stored.width, height: stored.height };
      }),
    };
  }
  if (verdict === null) return null;
  const comment = $("comment").value.trim();
  return comment ? { verdict, comment } : { verdict };
}

async function submit() {
  if (!work || busy) return;
  const body = answer();
  if (!body) {
    announce(type === "verification" ? "Answer yes (Y) or no (N) first." : `Pick a label first (keys 1–${Math.min(9, labels.length)}).`, "error");
    return;
  }
  setBusy(true);
  try {
    await api(`assignments/${work.id}/submit/`, { method: "POST", json: body });
    submitted += 1;
    $("done-count").textContent = `${submitted} submitted`;
    announce(`Submitted (${submitted} so far).`, "success");
  } catch (error) {
    setBusy(false);
    if (error.code === "lease_expired") {
      announce("Too late: the time for that image ran out, so the answer was not counted. Here is the next image.", "error");
    } else if (error.code === "already_submitted" || error.code === "assignment_not_leased") {
      announce("That image was already closed. Here is the next one.", "error");
    } else {
      announce(`Not submitted: ${error.message}`, "error");
      return;
    }
  }
  await loadNext();
}

async function skip() {
  if (!work || busy) return;
  setBusy(true);
  try {
    await api(`assignments/${work.id}/release/`, { method: "POST" });
    announce("Skipped: the image went back to the queue.");
  } catch (error) {
    // An expired or already closed lease needs no release; take the next one all the same.
    if (!["lease_expired", "assignment_not_leased", "already_submitted"].includes(error.code)) {
      setBusy(false);
      announce(`Not skipped: ${error.message}`, "error");
      return;
    }
  }
  await loadNext();
}

// --- keyboard -----------------------------------------------------------------------------------------------

function typing(target) {
  return target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable;
}

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.metaKey) return;
  if (!$("start-screen").hidden) {
    if (event.key === "Enter" && event.target.id !== "start") {
      event.preventDefault();
      $("start").click();
    }
    return;
  }
  if ($("work").hidden) return;
  if (event.ctrlKey) {
    if (event.key.toLowerCase() === "z" && tool) {
      event.preventDefault();
      if (tool.removeLast()) announce("Removed the last box.");
    }
    return;
  }
  if (typing(event.target)) {
    if (event.key === "Enter") {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape") {
      event.target.blur();
      $("stage").focus({ preventScroll: true });
    }
    return;
  }
  const key = event.key;
  const onOtherButton = event.target.tagName === "BUTTON" && !event.target.classList.contains("label-btn");
  if (key === "Enter" && !onOtherButton) {
    event.preventDefault();
    submit();
  } else if (key === "s" || key === "S" || key === "Escape") {
    if (key === "Escape" && tool && tool.cancel()) return;
    event.preventDefault();
    skip();
  } else if (/^[1-9]$/.test(key)) {
    event.preventDefault();
    pick(Number(key) - 1);
  } else if (type === "verification" && (key === "y" || key === "n")) {
    setVerdict(key === "y");
  } else if (type === "verification" && key === "c") {
    event.preventDefault();
    $("comment").focus();
  } else if (tool && (key === "Delete" || key === "Backspace")) {
    event.preventDefault();
    tool.remove(tool.selected);
  }
});

$("start").addEventListener("click", () => loadNext());
$("check-again").addEventListener("click", () => loadNext());
$("submit").addEventListener("click", () => submit());
$("skip").addEventListener("click", () => skip());
$("verdict-yes")?.addEventListener("click", () => setVerdict(true));
$("verdict-no")?.addEventListener("click", () => setVerdict(false));
renderLabelButtons();
