// Draws the structure charts (members/charts.html): one pie or bar chart per table, from the
// figures the page put in <script type="application/json" id="structure-data">.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("structure-data");
  if (!source || !window.echarts) return;
  const palette = ["#b3120f", "#e4572e", "#f3a712", "#669bbc", "#29335c", "#8d6a9f", "#4f772d",
    "#c9a227", "#6c757d", "#d62828", "#003049", "#90be6d"];
  const charts = [];
  for (const table of JSON.parse(source.textContent)) {
    const el = document.getElementById(`chart-${table.key}`);
    if (!el) continue;
    const chart = echarts.init(el);
    if (table.chart === "pie") {
      chart.setOption({
        color: palette,
        tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
        legend: { bottom: 0, type: "scroll" },
        series: [{
          type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"],
          label: { formatter: "{b}\n{d}%" },
          data: table.labels.map((name, i) => ({ name, value: table.values[i] })),
        }],
      });
    } else {
      chart.setOption({
        color: palette,
        tooltip: { trigger: "axis" },
        grid: { left: 10, right: 10, top: 20, bottom: 10, containLabel: true },
        xAxis: { type: "category", data: table.labels, axisLabel: { interval: 0, rotate: table.labels.length > 6 ? 45 : 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: table.values, itemStyle: { color: "#b3120f" }, label: { show: table.labels.length <= 12, position: "top" } }],
      });
    }
    charts.push(chart);
  }
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
});
