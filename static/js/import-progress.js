// Feeds the import page's progress bar from the job's status until it finishes, then reloads
// the page once to show the result.
(function () {
  const box = document.getElementById("import-job");
  if (!box || ["succeeded", "failed"].includes(box.dataset.status)) return;
  const bar = document.getElementById("import-progress");
  const stage = document.getElementById("import-stage");
  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" } });
      const job = await response.json();
      if (job.status === "succeeded" || job.status === "failed") return window.location.reload();
      if (job.progress !== null) bar.value = job.progress; else bar.removeAttribute("value");
      const total = job.rows_estimated ? ` of about ${job.rows_estimated.toLocaleString()}` : "";
      // As the page renders it: a job no worker has taken yet has no stage.
      const label = job.stage_label ? `${job.stage_label}…` : "Waiting for a worker…";
      stage.textContent = `${label} ${job.rows_done.toLocaleString()}${total} rows`;
    } catch (error) {
      stage.textContent = "Lost contact with the server; retrying…";
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
