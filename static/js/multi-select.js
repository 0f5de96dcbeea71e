// Every <select multiple> becomes searchable, and a click toggles an option without Ctrl (holding
// Ctrl was the only way to choose several, and a plain click dropped the others). The select
// itself stays the form field, so what is posted and validated is unchanged.
(function () {
  function enhance(select) {
    const box = document.createElement("div");
    box.className = "multi-select";
    const search = document.createElement("input");
    search.type = "search";
    search.placeholder = "Search…";
    // Not named after the field: a search for the field by its label must find the select alone.
    search.setAttribute("aria-label", "Type to filter the choices below");
    const chosen = document.createElement("p");
    chosen.className = "muted small multi-select-chosen";
    chosen.setAttribute("aria-live", "polite");
    select.before(box);
    box.append(search, select, chosen);

    function summarise() {
      const names = Array.from(select.selectedOptions, (option) => option.textContent.trim());
      chosen.textContent = names.length ? `Chosen (${names.length}): ${names.join(", ")}` : "None chosen";
    }

    search.addEventListener("input", () => {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const option of select.options) {
        const text = option.textContent.toLowerCase();
        option.hidden = !words.every((word) => text.includes(word));
      }
    });
    // Enter in the search box would submit the form; choose the only match instead.
    search.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      const visible = Array.from(select.options).filter((option) => !option.hidden);
      if (visible.length === 1) {
        visible[0].selected = !visible[0].selected;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    select.addEventListener("mousedown", (event) => {
      const option = event.target.closest("option");
      if (!option) return;
      event.preventDefault();
      option.selected = !option.selected;
      select.focus();
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
    select.addEventListener("change", summarise);
    summarise();
  }

  function wire() {
    document.querySelectorAll("select[multiple]").forEach(enhance);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
