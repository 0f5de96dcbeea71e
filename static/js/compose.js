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

// Show only the fields that apply to the chosen account and broadcast type. Without JavaScript
// every field shows, and the server checks the same rules either way; a field with an error
// always shows.
(function () {
  const SMART = "12", SINGLE = "10";
  const RULES = {
    campaign: (s) => s.kind === "messagewhiz",
    senders: (s) => s.kind === "messagewhiz",
    sender_lists: (s) => s.kind === "messagewhiz",
    template: (s) => s.kind !== "whatsapp",
    whatsapp_template: (s) => s.kind === "whatsapp",
    recipient: (s) => s.type === SINGLE,
    recipient_lists: (s) => s.type !== SINGLE,
    unsubscribe_lists: (s) => s.type !== SINGLE,
  };

  function state() {
    const account = document.getElementById("id_account");
    const kinds = account && account.dataset.accountKinds ? JSON.parse(account.dataset.accountKinds) : {};
    // No account chosen: the server treats it as MessageWhiz.
    const kind = kinds[account && account.value] || "messagewhiz";
    const type = document.getElementById("id_type");
    return { kind: kind === "generic" ? "sms" : kind, type: type ? type.value : "" };
  }

  function show(node, visible) {
    if (node) node.hidden = !visible && !node.querySelector(".error");
  }

  function update() {
    const s = state();
    for (const [name, applies] of Object.entries(RULES)) show(document.getElementById(`field-${name}`), applies(s));
    const messagewhiz = s.kind === "messagewhiz";
    show(document.getElementById("smart-settings"), messagewhiz && s.type === SMART);
    const smart = document.querySelector(`#id_type option[value="${SMART}"]`);
    if (smart) smart.disabled = !messagewhiz;
    const trigger = document.querySelector("input[name=when][value=trigger]");
    if (trigger) show(trigger.closest("label"), messagewhiz);
    // HTTP providers get Textcast's own links, longer or shorter than MessageWhiz's: count those.
    const body = document.getElementById("id_body");
    const values = body && body.dataset[messagewhiz ? "providerTokenValues" : "ownTokenValues"];
    if (values && values !== body.dataset.tokenValues) {
      body.dataset.tokenValues = values;
      body.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }

  document.addEventListener("change", (event) => {
    if (event.target.id === "id_account" || event.target.id === "id_type") update();
  });
  document.addEventListener("DOMContentLoaded", update);
})();
