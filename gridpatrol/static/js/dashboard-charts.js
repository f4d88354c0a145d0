// The dashboard's charts: Apache ECharts (static/vendor/echarts.min.js, canvas renderer) drawing the JSON that
// the page carries in <script type="application/json" id="dashboard-data"> (the same read model as
// /s/<site>/dashboard.json). Each chart's figures are also in the table under it; without this script (or
// without ECharts) the tables are what the page shows.
(function () {
  "use strict";

  var PALETTE = ["#1f5fa8", "#d07a1f", "#2e8b57", "#b8261d", "#7c5cc4", "#4a9fb5", "#8a6d3b", "#6b7785"];

  function readData() {
    var block = document.getElementById("dashboard-data");
    if (!block) { return null; }
    try { return JSON.parse(block.textContent); } catch (e) { return null; }
  }

  function base(labels) {
    return {
      animation: false,
      color: PALETTE,
      grid: { left: 40, right: 12, top: 34, bottom: 24, containLabel: false },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: labels, axisLabel: { fontSize: 11 } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { fontSize: 11 } }
    };
  }

  var OPTIONS = {
    found: function (charts) {
      var option = base(charts.week_labels);
      option.legend = { top: 0, type: "scroll", textStyle: { fontSize: 11 }, itemWidth: 14, itemHeight: 9 };
      option.series = charts.found_by_category.map(function (series) {
        return { name: series.name, type: "bar", stack: "found", data: series.values, barMaxWidth: 22 };
      });
      return option;
    },
    completion: function (charts) {
      var option = base(charts.week_labels);
      option.grid.top = 16;
      option.yAxis = { type: "value", min: 0, max: 100, axisLabel: { fontSize: 11, formatter: "{value}%" } };
      option.tooltip.valueFormatter = function (value) { return value === null || value === undefined ? "—" : value.toFixed(2) + "%"; };
      option.series = [{ name: charts.names.completion, type: "line", data: charts.patrol_completion,
                         connectNulls: false, symbolSize: 6, lineStyle: { width: 2 }, areaStyle: { opacity: 0.12 } }];
      return option;
    },
    closed: function (charts) {
      var option = base(charts.week_labels);
      option.grid.top = 16;
      option.color = ["#2e8b57"];
      option.series = [{ name: charts.names.closed, type: "bar", data: charts.closed, barMaxWidth: 22 }];
      return option;
    }
  };

  function draw() {
    var data = readData();
    if (!data || !window.echarts) { return; }
    var drawn = [];
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var make = OPTIONS[element.getAttribute("data-chart")];
      if (!make) { return; }
      var chart = window.echarts.init(element, null, { renderer: "canvas" });
      chart.setOption(make(data.charts));
      element.setAttribute("data-drawn", "true");
      drawn.push(chart);
    });
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) { window.clearTimeout(pending); }
      pending = window.setTimeout(function () { drawn.forEach(function (chart) { chart.resize(); }); }, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
