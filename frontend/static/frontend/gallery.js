// The dataset gallery: a thumbnail grid read page by page through the entries API (cursor pages, more on
// scroll), selection by click and shift-click, image labels for a selection or for every matching image.
import { api, announce } from "./api.js";

const config = JSON.parse(document.getElementById("gallery-config").textContent);
const grid = document.getElementById("grid");
const loadMoreButton = document.getElementById("load-more");
const sentinel = document.getElementById("grid-sentinel");
const PAGE_SIZE = 120;

const state = {
  next: null, // URL of the next cursor page, null at the end
  loading: false,
  entries: [], // loaded entries, in grid order
  selected: new Set(), // ids
  allMatching: false, // the selection is "every entry matching the filter", loaded or not
  anchor: null, // index of the last clicked entry, for shift-click ranges
};

function firstPageUrl() {
  const params = new URLSearchParams(config.query);
  params.set("page_size", String(PAGE_SIZE));
  return `/api/v1/datasets/${config.datasetId}/entries/?${params}`;
}

function entryHref(id) {
  const base = config.entryUrl.replace(/0\/$/, `${id}/`);
  const query = new URLSearchParams(config.query).toString();
  return query ? `${base}?${query}` : base;
}

function fileName(sourceRef) {
  const parts = sourceRef.split("/");
  return parts[parts.length - 1] || sourceRef;
}

function tile(entry, index) {
  const item = document.createElement("li");
  item.className = "tile";
  item.dataset.id = entry.id;
  item.dataset.index = index;
  const name = fileName(entry.source_ref);

  const link = document.createElement("a");
  link.className = "thumb";
  link.href = entryHref(entry.id);
  link.title = entry.source_ref;
  if (entry.thumbnail_url) {
    const img = document.createElement("img");
    img.src = entry.thumbnail_url;
    img.alt = name;
    img.loading = "lazy";
    img.decoding = "async";
    link.append(img);
  } else {
    const none = document.createElement("span");
    none.className = "no-thumb";
    none.textContent = "No preview";
    link.append(none);
  }
  item.append(link);

  if (config.canEdit) {
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "pick";
    box.setAttribute("aria-label", `Select ${name}`);
    box.checked = state.allMatching || state.selected.has(entry.id);
    box.addEventListener("click", (event) => onPick(event, index));
    item.append(box);
  }

  if (entry.errors && entry.errors.length) {
    const badge = document.createElement("span");
    badge.className = "badge error-badge";
    const reasons = entry.errors.map((e) => `${e.code}: ${e.message}`).join("\n");
    badge.title = reasons;
    badge.setAttribute("aria-label", `Errors: ${reasons}`);
    badge.textContent = entry.errors.length === 1 ? "1 error" : `${entry.errors.length} errors`;
    item.append(badge);
  }

  const caption = document.createElement("div");
  caption.className = "caption";
  const title = document.createElement("span");
  title.className = "file";
  title.textContent = name;
  caption.append(title);
  const chips = document.createElement("span");
  chips.className = "chips";
  renderChips(chips, entry);
  caption.append(chips);
  item.append(caption);
  return item;
}

function renderChips(container, entry) {
  container.replaceChildren();
  for (const label of entry.labels) {
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.textContent = label;
    container.append(chip);
  }
  if (entry.boxes.length) {
    const chip = document.createElement("span");
    chip.className = "chip boxes";
    chip.textContent = `${entry.boxes.length} box${entry.boxes.length === 1 ? "" : "es"}`;
    chip.title = [...new Set(entry.boxes.map((b) => b.label))].join(", ");
    container.append(chip);
  }
}

async function loadPage(url) {
  if (state.loading || !url) return;
  state.loading = true;
  grid.setAttribute("aria-busy", "true");
  loadMoreButton.disabled = true;
  try {
    const page = await api(url);
    const fragment = document.createDocumentFragment();
    for (const entry of page.results) {
      fragment.append(tile(entry, state.entries.length));
      state.entries.push(entry);
    }
    grid.append(fragment);
    state.next = page.next;
    document.getElementById("grid-empty").hidden = state.entries.length > 0;
  } catch (error) {
    announce(`Could not load images: ${error.message}`, "error");
  } finally {
    state.loading = false;
    grid.setAttribute("aria-busy", "false");
    loadMoreButton.hidden = !state.next;
    loadMoreButton.disabled = false;
  }
}

function reloadGrid() {
  state.entries = [];
  state.next = null;
  state.anchor = null;
  grid.replaceChildren();
  return loadPage(firstPageUrl());
}

// --- selection -------------------------------------------------------------------------------------------

function onPick(event, index) {
  const entry = state.entries[index];
  if (state.allMatching) {
    // Leaving "all matching": keep the loaded ones as an explicit selection, minus this one.
    state.allMatching = false;
    state.selected = new Set(state.entries.map((e) => e.id));
  }
  if (event.shiftKey && state.anchor !== null) {
    const [from, to] = state.anchor < index ? [state.anchor, index] : [index, state.anchor];
    const on = event.target.checked;
    for (let i = from; i <= to; i += 1) {
      const id = state.entries[i].id;
      if (on) state.selected.add(id);
      else state.selected.delete(id);
    }
  } else if (event.target.checked) {
    state.selected.add(entry.id);
  } else {
    state.selected.delete(entry.id);
  }
  state.anchor = index;
  syncSelection();
}

function selectionSize() {
  return state.allMatching ? Number(document.getElementById("matching").dataset.count) : state.selected.size;
}

function syncSelection() {
  if (!config.canEdit) return;
  for (const item of grid.children) {
    const on = state.allMatching || state.selected.has(Number(item.dataset.id));
    item.classList.toggle("selected", on);
    const box = item.querySelector("input.pick");
    if (box) box.checked = on;
  }
  const size = selectionSize();
  const text = state.allMatching
    ? `All ${size} matching image${size === 1 ? "" : "s"} selected`
    : size
      ? `${size} image${size === 1 ? "" : "s"} selected`
      : "No images selected";
  document.getElementById("selection-count").textContent = text;
  document.getElementById("selection-bar").classList.toggle("active", size > 0);
  for (const id of ["select-clear", "selection-add", "selection-remove"]) {
    document.getElementById(id).disabled = size === 0;
  }
}

async function applyLabel(action) {
  const input = document.getElementById("selection-label");
  const label = input.value.trim();
  if (!label) {
    announce("Type or pick a label name first.", "error");
    input.focus();
    return;
  }
  const body = { label, action };
  if (state.allMatching) {
    body.all_matching = true;
    body.filter = config.query;
  } else {
    if (state.selected.size > config.maxPicked) {
      announce(`Pick at most ${config.maxPicked} images, or use "Select all matching".`, "error");
      return;
    }
    body.entry_ids = [...state.selected];
  }
  const size = selectionSize();
  if (state.allMatching && !window.confirm(`${action === "add" ? "Add" : "Remove"} “${label}” ${action === "add" ? "to" : "from"} all ${size} matching images?`)) return;
  for (const id of ["selection-add", "selection-remove"]) document.getElementById(id).disabled = true;
  try {
    const result = await api(config.selectionUrl, { method: "POST", json: body });
    const verb = action === "add" ? "Added" : "Removed";
    announce(`${verb} “${result.label}” ${action === "add" ? "to" : "from"} ${result.changed} image${result.changed === 1 ? "" : "s"}.`, "success");
    if (state.allMatching) {
      await reloadGrid();
    } else {
      for (const entry of state.entries) {
        if (!state.selected.has(entry.id)) continue;
        entry.labels = action === "add"
          ? [...new Set([...entry.labels, result.label])]
          : entry.labels.filter((name) => name !== result.label);
        const chips = grid.querySelector(`li[data-id="${entry.id}"] .chips`);
        if (chips) renderChips(chips, entry);
      }
    }
    await refreshPanel();
  } catch (error) {
    announce(error.message, "error");
  } finally {
    syncSelection();
  }
}

// --- the label panel: server-rendered; after a change it is read again from the page itself ----------------

async function refreshPanel() {
  const response = await fetch(window.location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const selector of ["#label-list", ".stats", "#label-names", "#filter-label"]) {
    const fresh = doc.querySelector(selector);
    const current = document.querySelector(selector);
    if (fresh && current) current.innerHTML = fresh.innerHTML;
  }
  const matching = doc.getElementById("matching");
  if (matching) {
    const current = document.getElementById("matching");
    current.dataset.count = matching.dataset.count;
    current.textContent = matching.textContent;
  }
}

async function onLabelTool(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const name = button.closest("[data-label]").dataset.label;
  const path = `datasets/${config.datasetId}/labels/${encodeURIComponent(name)}/`;
  try {
    if (button.dataset.action === "rename") {
      const newName = window.prompt(`Rename “${name}” to (an existing name merges the two labels):`, name);
      if (newName === null || newName.trim() === "" || newName.trim() === name) return;
      await api(path, { method: "PATCH", json: { name: newName.trim() } });
      announce(`Renamed “${name}” to “${newName.trim()}”.`, "success");
    } else {
      if (!window.confirm(`Delete the label “${name}” from every image (its boxes too)? This cannot be undone.`)) return;
      await api(path, { method: "DELETE" });
      announce(`Deleted the label “${name}”.`, "success");
    }
    await refreshPanel();
    await reloadGrid();
  } catch (error) {
    announce(error.message, "error");
  }
}

async function onLabelAdd(event) {
  event.preventDefault();
  const input = document.getElementById("new-label");
  const name = input.value.trim();
  if (!name) return;
  try {
    await api(`datasets/${config.datasetId}/labels/`, { method: "POST", json: { name } });
    input.value = "";
    announce(`Added the label “${name}”.`, "success");
    await refreshPanel();
  } catch (error) {
    announce(error.message, "error");
  }
}

// --- wiring -----------------------------------------------------------------------------------------------

loadMoreButton.addEventListener("click", () => loadPage(state.next));
new IntersectionObserver(
  (items) => {
    if (items.some((item) => item.isIntersecting) && state.next) loadPage(state.next);
  },
  { rootMargin: "600px 0px" },
).observe(sentinel);

// Empty filter fields stay out of the URL, so a filtered view is a short link.
document.getElementById("gallery-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(event.target)) if (String(value).trim()) params.set(key, String(value).trim());
  const query = params.toString();
  window.location.assign(query ? `?${query}` : window.location.pathname);
});
for (const id of ["filter-label", "filter-labeled", "filter-errors"]) {
  document.getElementById(id).addEventListener("change", () => document.getElementById("gallery-filter").requestSubmit());
}

document.getElementById("label-list").addEventListener("click", onLabelTool);
document.getElementById("label-add")?.addEventListener("submit", onLabelAdd);

if (config.canEdit) {
  document.getElementById("select-loaded").addEventListener("click", () => {
    state.allMatching = false;
    for (const entry of state.entries) state.selected.add(entry.id);
    syncSelection();
  });
  document.getElementById("select-all-matching").addEventListener("click", () => {
    state.allMatching = true;
    state.selected.clear();
    syncSelection();
  });
  document.getElementById("select-clear").addEventListener("click", () => {
    state.allMatching = false;
    state.selected.clear();
    state.anchor = null;
    syncSelection();
  });
  document.getElementById("selection-add").addEventListener("click", () => applyLabel("add"));
  document.getElementById("selection-remove").addEventListener("click", () => applyLabel("remove"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && selectionSize()) document.getElementById("select-clear").click();
  });
}

loadPage(firstPageUrl()).then(syncSelection);
