// Pulse dashboards: draw the figures embedded in the page, show the custom dates only for a
// custom range, and sort tables by a click on a column. No inline script anywhere (the web
// app's Content-Security-Policy allows scripts from the app itself only).
(function () {
  "use strict";

  function drawFigures() {
    var holders = document.querySelectorAll("[data-figure]");
    if (!holders.length) return;
    if (typeof Plotly === "undefined") {
      holders.forEach(function (el) { el.textContent = "The charts need plotly.min.js beside this page."; });
      return;
    }
    holders.forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-figure"));
      var figure = JSON.parse(source.textContent);
      narrow(figure, el.clientWidth);
      // No mode bar: it covered the legend, and the axes are fixed (a phone scrolls the page, not the chart).
      Plotly.newPlot(el, figure.data, figure.layout, {displaylogo: false, responsive: true, displayModeBar: false});
    });
  }

  // On a narrow chart: half as many period ticks (still on period starts), shorter post titles,
  // so labels neither collide nor run off the chart.
  function narrow(figure, width) {
    var layout = figure.layout, axis = layout.xaxis;
    if (width >= 560 || !axis) return;
    if (layout.meta && layout.meta.narrow_labels) {
      figure.data[0].y = layout.meta.narrow_labels;
      axis.nticks = 4;
    }
    if (axis.tickmode !== "linear") return;
    if (typeof axis.dtick === "number") axis.dtick = axis.dtick * 2;
    else if (/^M\d+$/.test(axis.dtick)) axis.dtick = "M" + (2 * parseInt(axis.dtick.slice(1), 10));
    if (layout.margin) { layout.margin.l = 40; layout.margin.r = 40; }
  }

  function rangeForm() {
    var form = document.getElementById("range-form");
    var select = document.getElementById("range-select");
    if (!form || !select) return;
    function update() {
      var custom = select.value === "custom";
      form.classList.toggle("preset", !custom);
      form.querySelectorAll(".custom-dates input").forEach(function (input) {
        input.disabled = !custom;   // a preset's URL carries no stray dates
        input.required = custom;
      });
    }
    select.addEventListener("change", update);
    update();
  }

  function sortableTables() {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      var headers = table.querySelectorAll("thead th");
      headers.forEach(function (th, index) {
        th.setAttribute("tabindex", "0");
        function sort() {
          var ascending = th.getAttribute("aria-sort") !== "ascending";
          var numeric = th.getAttribute("data-sort") === "number";
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          function key(row) {
            var cell = row.cells[index];
            var text = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
            if (!numeric) return text.toLowerCase();
            var number = parseFloat(text.replace(/[^0-9.\-]/g, ""));
            return isNaN(number) ? -Infinity : number;
          }
          rows.sort(function (a, b) {
            var x = key(a), y = key(b);
            var order = x < y ? -1 : x > y ? 1 : 0;
            return ascending ? order : -order;
          });
          rows.forEach(function (row) { body.appendChild(row); });
          headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
          th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        }
        th.addEventListener("click", sort);
        th.addEventListener("keydown", function (event) { if (event.key === "Enter") sort(); });
      });
    });
  }

  function start() { rangeForm(); sortableTables(); drawFigures(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
