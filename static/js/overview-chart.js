// The overview's trend: messages sent, delivered and failed per day, with clicks as a line.
(function () {
  const canvas = document.getElementById("trend-chart");
  const source = document.getElementById("trend-data");
  if (!canvas || !source || !window.Chart) return;
  const days = JSON.parse(source.textContent);
  const series = (name) => days.map((day) => day[name]);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: days.map((day) => day.day),
      datasets: [
        { label: "Sent", data: series("sent"), backgroundColor: "#818cf8" },
        { label: "Delivered", data: series("delivered"), backgroundColor: "#15803d" },
        { label: "Failed", data: series("failed"), backgroundColor: "#b91c1c" },
        { label: "Clicked", data: series("clicked"), type: "line", borderColor: "#0ea5e9", backgroundColor: "#0ea5e9" },
      ],
    },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
               scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
})();
