// Token picker: insert the token at the cursor in the message, then let the counter recount.
(function () {
  document.addEventListener("click", function (event) {
    const chip = event.target.closest("[data-token]");
    if (!chip) return;
    const body = document.getElementById("id_body");
    const start = body.selectionStart ?? body.value.length;
    const end = body.selectionEnd ?? body.value.length;
    body.value = body.value.slice(0, start) + chip.dataset.token + body.value.slice(end);
    body.focus();
    body.selectionStart = body.selectionEnd = start + chip.dataset.token.length;
    body.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();

// Show only the fields that belong to the chosen "When" (all of them without JavaScript).
(function () {
  function update() {
    const chosen = document.querySelector("input[name=when]:checked");
    const when = chosen ? chosen.value : "now";
    for (const box of document.querySelectorAll("[data-when]")) {
      box.hidden = !box.dataset.when.split(" ").includes(when);
    }
  }
  document.addEventListener("change", (event) => { if (event.target.name === "when") update(); });
  document.addEventListener("DOMContentLoaded", update);
})();
