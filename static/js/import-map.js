// Changing the sheet or the header flag shows the preview again instead of importing.
document.querySelectorAll("[data-repreview]").forEach(function (input) {
  input.addEventListener("change", function () {
    input.form.step.value = "preview";
    input.form.submit();
  });
});
