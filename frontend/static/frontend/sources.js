// Show only the part of a form that the chosen option needs. A panel marked data-when="name:a b" is shown
// while the radio group `name` has the value a or b. Without this script every panel stays visible.

function update(form) {
  for (const panel of form.querySelectorAll("[data-when]")) {
    const [name, values] = panel.dataset.when.split(":");
    const chosen = form.querySelector(`input[name="${name}"]:checked`);
    panel.hidden = !(chosen && values.split(" ").includes(chosen.value) && !panel.parentElement.closest("[hidden]"));
  }
}

for (const form of document.querySelectorAll("form[data-sources]")) {
  form.addEventListener("change", () => update(form));
  update(form);
  update(form); // nested panels see their parent's new state
}
