/* Draws every chart of a dashboard page from the figure JSON next to it, and keeps the filter
   bar's preset and custom dates from contradicting each other. plotly.js is loaded before this. */
(function () {
  "use strict";

  function drawCharts() {
    if (typeof Plotly === "undefined") { return; }
    document.querySelectorAll(".chart[data-chart-id]").forEach(function (div) {
      var source = document.getElementById(div.dataset.chartId);
      if (!source) { return; }
      var fig = JSON.parse(source.textContent);
      // Offline: never let plotly.js fetch map data or fonts from a CDN (no chart here uses geo/map traces).
      var config = { responsive: true, displaylogo: false, topojsonURL: "/static/vendor/plotly/topojson/" };
      // Month and day names on date axes in the page's language (the Spanish locale is loaded on Spanish pages).
      config.locale = (document.documentElement.lang || "en").slice(0, 2);
      if (div.classList.contains("chart-spark") || window.innerWidth < 576) {
        config.displayModeBar = false;
      } else {
        config.modeBarButtonsToRemove = ["select2d", "lasso2d", "autoScale2d", "zoomIn2d", "zoomOut2d"];
      }
      Plotly.newPlot(div, fig.data, fig.layout, config);
    });
  }

  function linkPeriodFields() {
    var preset = document.getElementById("filter-preset");
    var start = document.getElementById("filter-start");
    var end = document.getElementById("filter-end");
    if (!preset || !start || !end) { return; }
    // A preset replaces custom dates; typing a date switches the preset to "custom dates".
    preset.addEventListener("change", function () {
      if (preset.value) { start.value = ""; end.value = ""; }
    });
    [start, end].forEach(function (input) {
      input.addEventListener("change", function () { if (input.value) { preset.value = ""; } });
    });
  }

  function dropEmptyParameters() {
    // Keep shared URLs short: blank filters are left out of the query string.
    var form = document.getElementById("filter-form");
    if (!form) { return; }
    form.addEventListener("submit", function () {
      form.querySelectorAll("input, select").forEach(function (field) {
        if (field.name && !field.value) { field.disabled = true; }
      });
    });
  }

  function init() { drawCharts(); linkPeriodFields(); dropEmptyParameters(); }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
