// Fields with data-show-if="…" show only while their condition holds (messaging/providers/generic/
// layout.py has the syntax). Without JavaScript every field shows; a field with an error always does.
(function () {
  function value(form, name) {
    const inputs = form.querySelectorAll(`[name="${name}"]`);
    for (const input of inputs) {
      if (input.type === "checkbox") return input.checked;
      if (input.type === "radio") { if (input.checked) return input.value; continue; }
      return input.value;
    }
    return undefined;
  }

  function holds(form, condition) {
    return condition.split("|").some((alternative) => alternative.split("&").every((test) => {
      const [name, values] = test.split("=");
      const current = value(form, name.trim());
      return values === undefined ? current === true : values.split(",").includes(String(current));
    }));
  }

  function update(form) {
    for (const box of form.querySelectorAll("[data-show-if]")) {
      box.hidden = !holds(form, box.dataset.showIf) && !box.querySelector(".error");
    }
  }

  function wire() {
    for (const form of document.querySelectorAll("form")) {
      if (!form.querySelector("[data-show-if]")) continue;
      form.addEventListener("change", () => update(form));
      update(form);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
