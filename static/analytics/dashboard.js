/*
 * Draws the console dashboard's charts (templates/analytics/admin/_dashboard.html).
 * Each <canvas class="analytics-chart" data-chart="ID"> reads its data from the
 * <script type="application/json" id="ID"> that json_script wrote, and is drawn with the
 * Chart.js django-unfold ships (window.Chart). No inline script: the page runs under a CSP.
 */
(function () {
  "use strict";

  function textColour() {
    return document.documentElement.classList.contains("dark") ? "#d1d5db" : "#374151";
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var spec = JSON.parse(source.textContent);
    var round = spec.type === "doughnut" || spec.type === "pie";
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { position: "bottom", labels: { color: textColour() } } },
    };
    if (!round) {
      options.scales = {
        x: { ticks: { color: textColour() }, grid: { display: false } },
        y: { beginAtZero: true, ticks: { color: textColour(), precision: 0 } },
      };
    }
    var chart = new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: options,
    });
    canvas.dataset.drawn = "true";
    return chart;
  }

  function drawAll() {
    document.querySelectorAll("canvas.analytics-chart").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
