// Draws the broadcast page's charts from the JSON the figures partial embeds, and redraws them
// whenever htmx swaps in fresh figures.
(function () {
  const COLOURS = ["#4f46e5", "#15803d", "#0ea5e9", "#b45309", "#b91c1c", "#7c3aed", "#6b7280", "#db2777"];
  // Each status keeps its colour whichever others are present.
  const STATUS_COLOURS = { "In flight": "#818cf8", Delivered: "#15803d", Undelivered: "#b45309",
    Expired: "#a16207", Rejected: "#db2777", Failed: "#b91c1c", Unknown: "#6b7280" };
  const charts = {};

  function data(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : [];
  }

  function draw(canvasId, type, pairs, options) {
    const canvas = document.getElementById(canvasId);
    if (!canvas || !window.Chart) return;
    const labels = pairs.map((p) => p[0]);
    const values = pairs.map((p) => p[1]);
    const colours = labels.map((label, i) => STATUS_COLOURS[label] || COLOURS[i % COLOURS.length]);
    if (charts[canvasId]) {
      charts[canvasId].data.labels = labels;
      charts[canvasId].data.datasets[0].data = values;
      charts[canvasId].data.datasets[0].backgroundColor = colours;
      charts[canvasId].update("none");
      return;
    }
    charts[canvasId] = new Chart(canvas, {
      type: type,
      data: { labels: labels, datasets: [{ data: values, backgroundColor: colours }] },
      options: Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, options),
    });
  }

  async function timeline() {
    const canvas = document.getElementById("timeline-chart");
    if (!canvas || !window.Chart) return;
    const response = await fetch(canvas.dataset.url, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const result = await response.json();
    document.getElementById("timeline-empty").hidden = result.minutes.length > 0;
    const labels = result.minutes.map((m) => new Date(m[0]).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    const series = (kind) => result.minutes.map((m) => m[1][kind]);
    const datasets = [
      { label: "Delivered", data: series("delivered"), backgroundColor: "#15803d" },
      { label: "Failed", data: series("failed"), backgroundColor: "#b91c1c" },
      { label: "Other", data: series("other"), backgroundColor: "#6b7280" },
    ];
    if (charts.timeline) {
      charts.timeline.data.labels = labels;
      charts.timeline.data.datasets.forEach((set, i) => { set.data = datasets[i].data; });
      charts.timeline.update("none");
    } else {
      charts.timeline = new Chart(canvas, {
        type: "bar", data: { labels, datasets },
        options: { responsive: true, maintainAspectRatio: false, animation: false,
                   scales: { x: { stacked: true },
                             y: { stacked: true, beginAtZero: true, title: { display: true, text: "Delivery reports" } } } },
      });
    }
    const table = document.getElementById("links-table");
    if (result.links.length) {
      // The link's name when the click names a known link, else the short link that was opened.
      const rows = result.links.map((l) =>
        `<tr><td>${l.name ? `${escapeHtml(l.name)} <span class="muted small">${escapeHtml(l.link_id)}</span>`
                          : escapeHtml(l.link_id)}</td>` +
        `<td>${l.clicks}</td><td>${l.people}</td><td>${l.conversion == null ? "—" : `${l.conversion}%`}</td></tr>`);
      table.innerHTML = `<div class="table-wrap"><table><thead><tr><th scope="col">Link</th><th scope="col">Clicks</th>` +
        `<th scope="col">People</th><th scope="col">Conversion</th></tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
    }
  }

  function escapeHtml(text) {
    const node = document.createElement("span");
    node.textContent = String(text);
    return node.innerHTML;
  }

  function render() {
    draw("funnel-chart", "bar", data("funnel-data"), { indexAxis: "y", plugins: { legend: { display: false } } });
    draw("breakdown-chart", "doughnut", data("breakdown-data").filter((p) => p[1] > 0), {});
    timeline();
  }

  document.addEventListener("DOMContentLoaded", render);
  document.addEventListener("htmx:afterSwap", render);
})();
