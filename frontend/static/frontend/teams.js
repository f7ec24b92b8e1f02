// The teams page: create a team with members picked from the project's members, edit it, delete it.
// Each change goes to the REST API; the page then reloads to show the list as the server has it.
import { api, announce } from "./api.js";

const config = JSON.parse(document.getElementById("teams-config").textContent);
const $ = (id) => document.getElementById(id);
const form = $("team-form");
const boxes = () => [...form.querySelectorAll('input[name="members"]')];
const FLASH_KEY = "groundwork-flash";

// A message survives the reload that follows a change.
const kept = sessionStorage.getItem(FLASH_KEY);
if (kept) {
  sessionStorage.removeItem(FLASH_KEY);
  announce(kept, "success");
}

function reloadWith(message) {
  sessionStorage.setItem(FLASH_KEY, message);
  window.location.reload();
}

function countPicked() {
  $("member-count").textContent = `(${boxes().filter((b) => b.checked).length} picked)`;
}

function showError(message) {
  $("team-name-error").textContent = message;
  $("team-name-error").hidden = !message;
  $("team-name").setAttribute("aria-invalid", message ? "true" : "false");
}

function editMode(team) {
  $("team-id").value = team ? team.id : "";
  $("team-name").value = team ? team.name : "";
  for (const box of boxes()) box.checked = team ? team.members.includes(box.value) : false;
  $("team-form-heading").textContent = team ? `Edit team “${team.name}”` : "New team";
  $("team-submit").textContent = team ? "Save team" : "Create team";
  $("team-cancel").hidden = !team;
  showError("");
  countPicked();
  $("team-name").focus();
}

form.addEventListener("change", countPicked);

$("member-filter")?.addEventListener("input", (event) => {
  const text = event.target.value.trim().toLowerCase();
  for (const box of boxes()) box.closest("li").hidden = text !== "" && !box.value.toLowerCase().includes(text);
});

$("team-cancel").addEventListener("click", () => editMode(null));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("team-name").value.trim();
  if (!name) {
    showError("Give the team a name.");
    $("team-name").focus();
    return;
  }
  const members = boxes().filter((b) => b.checked).map((b) => b.value);
  const id = $("team-id").value;
  $("team-submit").disabled = true;
  try {
    if (id) {
      await api(`teams/${id}/`, { method: "PATCH", json: { name, members } });
      reloadWith(`Saved team “${name}”.`);
    } else {
      await api(`projects/${config.projectId}/teams/`, { method: "POST", json: { name, members } });
      reloadWith(`Created team “${name}” with ${members.length} member${members.length === 1 ? "" : "s"}.`);
    }
  } catch (error) {
    showError(error.fields?.name || error.message);
    announce(`Not saved: ${error.message}`, "error");
    $("team-submit").disabled = false;
  }
});

document.addEventListener("click", async (event) => {
  const edit = event.target.closest("[data-edit]");
  const remove = event.target.closest("[data-delete]");
  if (edit) {
    editMode(config.teams.find((t) => String(t.id) === edit.dataset.edit));
  } else if (remove) {
    const team = config.teams.find((t) => String(t.id) === remove.dataset.delete);
    if (!window.confirm(`Delete team “${team.name}”?`)) return;
    try {
      await api(`teams/${team.id}/`, { method: "DELETE" });
      reloadWith(`Deleted team “${team.name}”.`);
    } catch (error) {
      announce(error.code === "team_in_use" ? `“${team.name}” works on a job, so it cannot be deleted.` : error.message, "error");
    }
  }
});
