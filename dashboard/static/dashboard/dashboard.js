// Draws the dashboard's charts with the vendored Chart.js from the numbers the
// page also prints as tables (each chart's <script type="application/json">).
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  document.documentElement.classList.add("js");
  var colours = ["#417690", "#ba2121", "#e0a030", "#79aec8", "#2f7d32", "#888888"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
    var line = spec.type === "line";
    new Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) {
          return {
            label: s.label,
            data: s.values,
            backgroundColor: colours[i % colours.length],
            borderColor: colours[i % colours.length],
            spanGaps: true,
            fill: false,
            tension: 0.2
          };
        })
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: spec.stacked },
          y: { stacked: spec.stacked, beginAtZero: true, max: spec.unit === "%" ? 100 : undefined }
        },
        plugins: { legend: { position: "bottom" } },
        elements: line ? { point: { radius: 3 } } : {}
      }
    });
  });
}());
