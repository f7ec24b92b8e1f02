// The image view: the photo upright, its boxes over it in an SVG whose user units are upright image pixels.
// Draw, move, resize, delete and relabel boxes; edit image labels; zoom, pan, undo/redo; save with PATCH.
import { api, announce } from "./api.js";
import { clampBox, resizeBox, spanBox, toStored, toUpright, uprightSize } from "./boxes.js";
import { colorOf, svgEl } from "./svg.js";

const HANDLES = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];
const MIN_DRAW_PX = 4; // a smaller drag (in screen pixels) is a click, not a box

const config = JSON.parse(document.getElementById("entry-config").textContent);
let entry = config.entry;
const stage = document.getElementById("stage");
const canvas = document.getElementById("canvas");
const photo = document.getElementById("photo");
const overlay = document.getElementById("overlay");
const $ = (id) => document.getElementById(id);

const sized = entry.width && entry.height && entry.image_url;
const [W, H] = sized ? uprightSize(entry.width, entry.height, entry.orientation || 1) : [0, 0];

function fromEntry(data) {
  return {
    labels: [...data.labels],
    boxes: data.boxes.map(({ label, left, top, width, height }) =>
      toUpright({ label, left, top, width, height }, data.width, data.height, data.orientation || 1)),
  };
}

let saved = fromEntry(entry);
let current = structuredClone(saved);
const undoStack = [];
const redoStack = [];
let selected = null; // index of the selected box
let scale = 1;
let drag = null;
let spaceDown = false;

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Every change goes through here so that it can be undone.
function change(mutate) {
  const before = structuredClone(current);
  mutate(current);
  if (same(before, current)) return;
  undoStack.push(before);
  redoStack.length = 0;
  render();
}

function undo() {
  if (!undoStack.length) return;
  redoStack.push(structuredClone(current));
  current = undoStack.pop();
  if (selected !== null && selected >= current.boxes.length) selected = null;
  render();
  announce("Undone.");
}

function redo() {
  if (!redoStack.length) return;
  undoStack.push(structuredClone(current));
  current = redoStack.pop();
  if (selected !== null && selected >= current.boxes.length) selected = null;
  render();
  announce("Redone.");
}

// --- rendering ----------------------------------------------------------------------------------------------

function renderOverlay() {
  overlay.replaceChildren();
  const stroke = 2 / scale;
  current.boxes.forEach((box, index) => {
    const color = colorOf(box.label);
    const group = svgEl("g", { class: `box${index === selected ? " selected" : ""}`, "data-index": index });
    group.append(svgEl("rect", {
      x: box.left, y: box.top, width: box.width, height: box.height, stroke: color, "stroke-width": stroke,
      fill: color, "fill-opacity": index === selected ? 0.18 : 0.08, "data-role": "body",
    }));
    const tag = svgEl("text", {
      x: box.left + 3 / scale, y: Math.max(box.top - 4 / scale, 12 / scale), fill: color,
      "font-size": 13 / scale, "paint-order": "stroke", stroke: "#fff", "stroke-width": 3 / scale,
    });
    tag.textContent = box.label;
    group.append(tag);
    if (index === selected && config.canEdit) {
      const size = 9 / scale;
      for (const handle of HANDLES) {
        const cx = box.left + (handle.includes("w") ? 0 : handle.includes("e") ? box.width : box.width / 2);
        const cy = box.top + (handle.includes("n") ? 0 : handle.includes("s") ? box.height : box.height / 2);
        group.append(svgEl("rect", {
          x: cx - size / 2, y: cy - size / 2, width: size, height: size, class: `handle handle-${handle}`,
          "data-role": "handle", "data-handle": handle, "stroke-width": 1 / scale,
        }));
      }
    }
    overlay.append(group);
  });
  if (drag && drag.kind === "draw" && drag.box) {
    const b = drag.box;
    overlay.append(svgEl("rect", {
      x: b.left, y: b.top, width: b.width, height: b.height, class: "drawing", "stroke-width": stroke,
    }));
  }
}

function renderLabels() {
  const list = $("image-labels");
  list.replaceChildren();
  if (!current.labels.length) {
    const none = document.createElement("li");
    none.className = "muted";
    none.textContent = "No image labels.";
    list.append(none);
  }
  for (const label of current.labels) {
    const item = document.createElement("li");
    item.className = "chip";
    item.textContent = label;
    if (config.canEdit) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chip-x";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Remove image label ${label}`);
      remove.addEventListener("click", () => change((s) => { s.labels = s.labels.filter((l) => l !== label); }));
      item.append(remove);
    }
    list.append(item);
  }
}

function renderBoxList() {
  const list = $("box-list");
  list.replaceChildren();
  $("box-count").textContent = `(${current.boxes.length})`;
  current.boxes.forEach((box, index) => {
    const item = document.createElement("li");
    item.className = index === selected ? "selected" : "";
    item.style.setProperty("--box-color", colorOf(box.label));
    const pick = document.createElement("button");
    pick.type = "button";
    pick.className = "box-pick";
    pick.textContent = `${box.width}×${box.height} at ${box.left},${box.top}`;
    pick.setAttribute("aria-label", `Select box ${index + 1}: ${box.label}, ${box.width} by ${box.height} at ${box.left}, ${box.top}`);
    pick.addEventListener("click", () => select(index));
    item.append(pick);
    if (config.canEdit) {
      const input = document.createElement("input");
      input.value = box.label;
      input.setAttribute("list", "label-names");
      input.setAttribute("aria-label", `Label of box ${index + 1}`);
      input.addEventListener("change", () => {
        const value = input.value.trim();
        if (value) change((s) => { s.boxes[index].label = value; });
        else input.value = box.label;
      });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "icon-btn danger";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Delete box ${index + 1}`);
      remove.addEventListener("click", () => deleteBox(index));
      item.append(input, remove);
    } else {
      const name = document.createElement("span");
      name.textContent = box.label;
      item.append(name);
    }
    list.append(item);
  });
}

function renderLabelNames() {
  const names = new Set([...config.labelNames, ...current.labels, ...current.boxes.map((b) => b.label)]);
  const list = $("label-names");
  list.replaceChildren(...[...names].sort().map((name) => Object.assign(document.createElement("option"), { value: name })));
}

function renderStatus() {
  if (!config.canEdit) return;
  const dirty = !same(current, saved);
  $("dirty").textContent = dirty ? "Unsaved changes" : "All changes saved";
  $("dirty").classList.toggle("warn", dirty);
  $("save").disabled = !dirty;
  $("undo").disabled = !undoStack.length;
  $("redo").disabled = !redoStack.length;
}

function render() {
  renderOverlay();
  renderLabels();
  renderBoxList();
  renderLabelNames();
  renderStatus();
}

// --- zoom ---------------------------------------------------------------------------------------------------

function fitScale() {
  const room = stage.getBoundingClientRect();
  return Math.min((room.width - 24) / W, (room.height - 24) / H, 4);
}

function setScale(next, anchor) {
  const old = scale;
  scale = Math.max(0.05, Math.min(next, 16));
  const rect = stage.getBoundingClientRect();
  const ax = anchor ? anchor.x - rect.left : rect.width / 2;
  const ay = anchor ? anchor.y - rect.top : rect.height / 2;
  const ix = (stage.scrollLeft + ax) / old;
  const iy = (stage.scrollTop + ay) / old;
  canvas.style.width = `${W * scale}px`;
  canvas.style.height = `${H * scale}px`;
  overlay.setAttribute("width", W * scale);
  overlay.setAttribute("height", H * scale);
  stage.scrollLeft = ix * scale - ax;
  stage.scrollTop = iy * scale - ay;
  $("zoom-level").textContent = `${Math.round(scale * 100)}%`;
  renderOverlay();
}

// --- pointer: draw, move, resize, pan -----------------------------------------------------------------------

function imagePoint(event) {
  const rect = overlay.getBoundingClientRect();
  const x = Math.max(0, Math.min(W, (event.clientX - rect.left) / scale));
  const y = Math.max(0, Math.min(H, (event.clientY - rect.top) / scale));
  return { x, y };
}

function select(index) {
  selected = index;
  renderOverlay();
  renderBoxList();
}

function deleteBox(index) {
  change((s) => { s.boxes.splice(index, 1); });
  selected = null;
  render();
}

overlay.addEventListener("pointerdown", (event) => {
  if (event.button === 1 || spaceDown) {
    drag = { kind: "pan", x: event.clientX, y: event.clientY, left: stage.scrollLeft, top: stage.scrollTop };
  } else if (event.button === 0) {
    const point = imagePoint(event);
    const target = event.target;
    const group = target.closest("g.box");
    if (group && config.canEdit) {
      const index = Number(group.dataset.index);
      selected = index;
      const base = structuredClone(current);
      drag = target.dataset.role === "handle"
        ? { kind: "resize", handle: target.dataset.handle, index, start: point, base }
        : { kind: "move", index, start: point, base };
    } else if (group) {
      select(Number(group.dataset.index));
      return;
    } else if (config.canEdit) {
      selected = null;
      drag = { kind: "draw", start: point, box: null };
    } else {
      drag = { kind: "pan", x: event.clientX, y: event.clientY, left: stage.scrollLeft, top: stage.scrollTop };
    }
  }
  if (drag) {
    overlay.setPointerCapture(event.pointerId);
    event.preventDefault();
    render();
  }
});

overlay.addEventListener("pointermove", (event) => {
  if (!drag) return;
  if (drag.kind === "pan") {
    stage.scrollLeft = drag.left - (event.clientX - drag.x);
    stage.scrollTop = drag.top - (event.clientY - drag.y);
    return;
  }
  const point = imagePoint(event);
  const dx = point.x - drag.start.x;
  const dy = point.y - drag.start.y;
  if (drag.kind === "draw") {
    drag.box = spanBox(drag.start.x, drag.start.y, point.x, point.y);
  } else {
    const box = drag.base.boxes[drag.index];
    let moved;
    if (drag.kind === "move") {
      moved = {
        ...box,
        left: Math.max(0, Math.min(W - box.width, box.left + dx)),
        top: Math.max(0, Math.min(H - box.height, box.top + dy)),
      };
    } else {
      moved = resizeBox(box, drag.handle, dx, dy);
    }
    current.boxes[drag.index] = clampBox(moved, W, H);
  }
  renderOverlay();
});

function endDrag(event, cancel = false) {
  if (!drag) return;
  const finished = drag;
  drag = null;
  if (event && overlay.hasPointerCapture?.(event.pointerId)) overlay.releasePointerCapture(event.pointerId);
  if (finished.kind === "draw") {
    const box = finished.box;
    if (!cancel && box && box.width * scale >= MIN_DRAW_PX && box.height * scale >= MIN_DRAW_PX) {
      const label = $("box-label").value.trim();
      if (!label) {
        announce("Type a label for new boxes first (the field “Label for new boxes”).", "error");
        $("box-label").focus();
      } else {
        change((s) => { s.boxes.push(clampBox({ label, ...box }, W, H)); });
        selected = current.boxes.length - 1;
      }
    }
    render();
  } else if (finished.kind === "move" || finished.kind === "resize") {
    const edited = structuredClone(current);
    current = finished.base;
    if (!cancel) change((s) => { s.boxes = edited.boxes; });
    render();
  }
}

overlay.addEventListener("pointerup", (event) => endDrag(event));
overlay.addEventListener("pointercancel", (event) => endDrag(event, true));

stage.addEventListener("wheel", (event) => {
  if (!event.ctrlKey) return; // a plain wheel scrolls (pans)
  event.preventDefault();
  setScale(scale * (event.deltaY < 0 ? 1.15 : 1 / 1.15), { x: event.clientX, y: event.clientY });
}, { passive: false });

// --- saving -------------------------------------------------------------------------------------------------

async function save() {
  if (!config.canEdit || same(current, saved)) return;
  const body = {
    labels: current.labels,
    boxes: current.boxes.map((box) => {
      const { label, left, top, width, height } = toStored(box, entry.width, entry.height, entry.orientation || 1);
      return { label, left, top, width, height };
    }),
  };
  $("save").disabled = true;
  $("dirty").textContent = "Saving…";
  try {
    entry = await api(`datasets/${config.datasetId}/entries/${entry.id}/`, { method: "PATCH", json: body });
    saved = fromEntry(entry);
    current = structuredClone(saved);
    announce("Saved.", "success");
  } catch (error) {
    // The edit stays on screen, unsaved, so that it can be fixed and saved again.
    const where = Object.keys(error.fields || {})[0];
    const match = where && /^boxes\.(\d+)/.exec(where);
    if (match) selected = Number(match[1]);
    announce(`Not saved: ${error.message}`, "error");
  } finally {
    render();
  }
}

// --- keyboard -----------------------------------------------------------------------------------------------

function typing(event) {
  const tag = event.target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.target.isContentEditable;
}

function go(link) {
  if (link) link.click();
}

document.addEventListener("keydown", (event) => {
  const mod = event.ctrlKey || event.metaKey;
  if (mod && event.key.toLowerCase() === "s") {
    event.preventDefault();
    save();
    return;
  }
  if (typing(event) || $("help").open) return;
  if (mod && event.key.toLowerCase() === "z") {
    event.preventDefault();
    if (event.shiftKey) redo();
    else undo();
  } else if (mod && event.key.toLowerCase() === "y") {
    event.preventDefault();
    redo();
  } else if (mod) {
    return;
  } else if (event.key === "?") {
    $("help").showModal();
  } else if (event.key === "n") {
    go($("next-link"));
  } else if (event.key === "p") {
    go($("previous-link"));
  } else if (event.key === "+" || event.key === "=") {
    setScale(scale * 1.25);
  } else if (event.key === "-") {
    setScale(scale / 1.25);
  } else if (event.key === "0") {
    setScale(fitScale());
  } else if (event.key === "Escape") {
    if (drag) endDrag(null, true);
    selected = null;
    render();
  } else if (event.key === " ") {
    spaceDown = true;
    stage.classList.add("panning");
    event.preventDefault();
  } else if ((event.key === "Delete" || event.key === "Backspace") && selected !== null && config.canEdit) {
    event.preventDefault();
    deleteBox(selected);
  } else if (event.key.startsWith("Arrow") && selected !== null && config.canEdit) {
    event.preventDefault();
    const step = event.shiftKey ? 10 : 1;
    const dx = event.key === "ArrowLeft" ? -step : event.key === "ArrowRight" ? step : 0;
    const dy = event.key === "ArrowUp" ? -step : event.key === "ArrowDown" ? step : 0;
    change((s) => {
      const box = s.boxes[selected];
      box.left = Math.max(0, Math.min(W - box.width, box.left + dx));
      box.top = Math.max(0, Math.min(H - box.height, box.top + dy));
    });
  }
});
document.addEventListener("keyup", (event) => {
  if (event.key === " ") {
    spaceDown = false;
    stage.classList.remove("panning");
  }
});

// --- wiring -------------------------------------------------------------------------------------------------

$("help-open").addEventListener("click", () => $("help").showModal());
$("zoom-in").addEventListener("click", () => setScale(scale * 1.25));
$("zoom-out").addEventListener("click", () => setScale(scale / 1.25));
$("zoom-fit").addEventListener("click", () => setScale(fitScale()));

if (config.canEdit) {
  $("save").addEventListener("click", save);
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("image-label-add").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("image-label-input");
    const name = input.value.trim();
    if (!name) return;
    change((s) => { if (!s.labels.includes(name)) s.labels.push(name); });
    input.value = "";
  });
  window.addEventListener("beforeunload", (event) => {
    if (!same(current, saved)) event.preventDefault();
  });
}

if (sized) {
  overlay.setAttribute("viewBox", `0 0 ${W} ${H}`);
  photo.addEventListener("load", () => setScale(fitScale()), { once: true });
  photo.addEventListener("error", () => announce("The image could not be loaded (its link may have expired: reload the page).", "error"));
  photo.src = entry.image_url;
  setScale(fitScale());
} else {
  canvas.hidden = true;
  $("no-image").hidden = false;
}
render();
