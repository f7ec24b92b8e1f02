// Upload from this computer: files dropped or chosen go to POST /api/v1/datasets/{id}/uploads/ in batches
// (a progress bar each, through XMLHttpRequest's upload progress); every refused file is listed with its reason.

const root = document.getElementById("uploader");
const datasetId = root.dataset.dataset;
const MAX_FILES = Number(root.dataset.batchFiles);
const MAX_BYTES = Number(root.dataset.batchBytes);
const dropzone = document.getElementById("dropzone");
const input = document.getElementById("files");
const batchesList = document.getElementById("batches");
const refusedRows = document.getElementById("refused-rows");
const summary = document.getElementById("summary");
let queue = Promise.resolve();
let totals = { added: 0, refused: 0 };

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]').content;
}

function batchesOf(files) {
  const batches = [];
  let current = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length && (current.length >= MAX_FILES || bytes + file.size > MAX_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size;
  }
  if (current.length) batches.push(current);
  return batches;
}

function refuse(file, message) {
  const tr = document.createElement("tr");
  const name = document.createElement("td");
  name.textContent = file;
  const reason = document.createElement("td");
  // The server's messages start with the file name, which the first column shows already.
  reason.textContent = message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
  tr.append(name, reason);
  refusedRows.append(tr);
  document.getElementById("refused").hidden = false;
  totals.refused += 1;
}

function showSummary() {
  summary.hidden = false;
  summary.textContent = `${totals.added} image${totals.added === 1 ? "" : "s"} added` +
    (totals.refused ? `, ${totals.refused} file${totals.refused === 1 ? "" : "s"} not added (listed below).` : ".");
}

function send(files, item) {
  const bar = item.querySelector("progress");
  const note = item.querySelector(".note");
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  const labels = document.getElementById("labels").value.trim();
  if (labels) form.append("labels", labels);
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/datasets/${datasetId}/uploads/`);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 95);
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      bar.value = 100;
      if (xhr.status === 201 && data) {
        totals.added += data.created.length;
        for (const error of data.errors) refuse(error.file, error.message);
        item.dataset.state = data.errors.length ? "partial" : "done";
        note.textContent = `${data.created.length} added` + (data.errors.length ? `, ${data.errors.length} refused` : "");
      } else {
        const message = (data && data.error && data.error.message) || `The server answered ${xhr.status}.`;
        item.dataset.state = "failed";
        note.textContent = message;
        for (const file of files) refuse(file.name, message);
      }
      showSummary();
      resolve();
    });
    xhr.addEventListener("error", () => {
      item.dataset.state = "failed";
      note.textContent = "The server could not be reached.";
      for (const file of files) refuse(file.name, "Not sent: the server could not be reached.");
      showSummary();
      resolve();
    });
    xhr.send(form);
  });
}

function add(fileList) {
  const files = Array.from(fileList);
  if (!files.length) return;
  for (const files_ of batchesOf(files)) {
    const item = document.createElement("li");
    const count = batchesList.children.length + 1;
    item.innerHTML = `<span class="label"></span><progress max="100" value="0"></progress><span class="note">waiting…</span>`;
    item.querySelector(".label").textContent = `Batch ${count}: ${files_.length} file${files_.length === 1 ? "" : "s"}`;
    item.querySelector("progress").setAttribute("aria-label", `Batch ${count}`);
    batchesList.append(item);
    // One batch at a time: the server checks and thumbnails every image, and the order stays readable.
    queue = queue.then(() => {
      item.querySelector(".note").textContent = "sending…";
      return send(files_, item);
    });
  }
}

input.addEventListener("change", () => {
  add(input.files);
  input.value = "";
});
for (const type of ["dragenter", "dragover"]) {
  dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    dropzone.classList.add("over");
  });
}
for (const type of ["dragleave", "drop"]) {
  dropzone.addEventListener(type, () => dropzone.classList.remove("over"));
}
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  add(event.dataTransfer.files);
});
