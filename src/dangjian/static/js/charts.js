// Draws the bar charts whose data a page put in a <script type="application/json"> element.
document.addEventListener("DOMContentLoaded", () => {
  const draw = (elementId, dataId) => {
    const el = document.getElementById(elementId);
    const source = document.getElementById(dataId);
    if (!el || !source || !window.echarts) return;
    const data = JSON.parse(source.textContent);
    const chart = echarts.init(el);
    chart.setOption({
      tooltip: {},
      grid: { left: 40, right: 10, top: 20, bottom: 30, containLabel: true },
      xAxis: { type: "category", data: data.labels },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: data.values, itemStyle: { color: "#b3120f" } }],
    });
    window.addEventListener("resize", () => chart.resize());
  };
  draw("kind-chart", "kind-chart-data");
});
