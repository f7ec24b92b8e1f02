// The "New labeling job" form: posts the job to the REST API and opens its dashboard.
import { api, announce } from "./api.js";

const config = JSON.parse(document.getElementById("jobs-config").textContent);
const $ = (id) => document.getElementById(id);
const form = $("job-form");

// Which form control shows the error of an API field.
const FIELD_INPUT = {
  name: "job-name", dataset: "job-dataset", task_type: "job-task-type", labels: "job-labels", team: "job-team",
  workers_per_image: "job-workers", task_time_limit_s: "job-time-limit", lifetime_s: "job-lifetime",
  instructions: "job-instructions", label_attribute_name: "job-attribute",
};

function showError(message, field) {
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  $("job-error").textContent = message;
  $("job-error").hidden = !message;
  const input = field && $(FIELD_INPUT[field.split(".")[0]]);
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    name: $("job-name").value.trim(),
    dataset: Number($("job-dataset").value),
    task_type: $("job-task-type").value,
    labels: $("job-labels").value.split("\n").map((l) => l.trim()).filter(Boolean),
    instructions: $("job-instructions").value,
    team: Number($("job-team").value),
    workers_per_image: Number($("job-workers").value),
    task_time_limit_s: Math.round(Number($("job-time-limit").value) * 60),
    lifetime_s: Math.round(Number($("job-lifetime").value) * 86400),
    only_unlabeled: $("job-only-unlabeled").checked,
  };
  const attribute = $("job-attribute").value.trim();
  if (attribute) body.label_attribute_name = attribute;
  if (!body.name) return showError("Give the job a name.", "name");
  if (!body.labels.length) return showError("Give at least one label.", "labels");
  showError("");
  $("job-submit").disabled = true;
  try {
    const job = await api(`projects/${config.projectId}/jobs/`, { method: "POST", json: body });
    announce(`Created job “${job.name}” with ${job.progress.images} images.`, "success");
    window.location.assign(config.jobUrl.replace("/0/", `/${job.id}/`));
  } catch (error) {
    const field = Object.keys(error.fields || {})[0];
    const detail = field && typeof error.fields[field] === "string" ? ` (${error.fields[field]})` : "";
    showError(`${error.message}${detail}`, field);
    $("job-submit").disabled = false;
  }
});
