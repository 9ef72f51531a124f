// Reports: the chart above each report's table (Chart.js, only the parts the reports use), and
// the period picker's From/To dates shown only for a custom period. The page works without
// this script: the table under the chart has the same figures, and the dates are always shown.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

// The same colours for the same meaning on every report; other series take the palette in
// order (the PDF's palette).
const MEANING = {
  won: "#1f8a4c",
  done: "#1f8a4c",
  lost: "#c22a2a",
  overdue: "#c22a2a",
  open: "#2f5bea",
  weighted: "#8fa8f5",
  "weighted value": "#8fa8f5",
};
const PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777"];
const INK = "#1d2433";
const MUTED = "#5c667a";
const GRID = "#e7eaf0";

function colour(name, index) {
  return MEANING[String(name).toLowerCase()] || PALETTE[index % PALETTE.length];
}

function numberFormat(data) {
  const plain = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  if (!data.money) return (value) => plain.format(value);
  let money;
  try {
    money = new Intl.NumberFormat(undefined, {
      style: "currency",
      currency: data.currency,
      maximumFractionDigits: 0,
    });
  } catch {
    // A currency code Intl does not know: the number, then the code.
    return (value) => `${plain.format(Math.round(value))} ${data.currency}`;
  }
  return (value) => money.format(value);
}

function compactMoney(data) {
  // Axis ticks: short ("€12K") so they never crowd the chart; tooltips give the full figure.
  try {
    const short = new Intl.NumberFormat(undefined, {
      style: "currency",
      currency: data.currency,
      notation: "compact",
      maximumFractionDigits: 1,
    });
    return (value) => short.format(value);
  } catch {
    const plain = new Intl.NumberFormat(undefined, {
      notation: "compact",
      maximumFractionDigits: 1,
    });
    return (value) => `${plain.format(value)} ${data.currency}`;
  }
}

function datasets(data) {
  return data.series.map((series, index) => {
    const fill = colour(series.name, index);
    if (series.kind === "line" || data.kind === "line") {
      return {
        type: "line",
        label: series.name,
        data: series.values,
        borderColor: fill,
        backgroundColor: fill,
        borderWidth: 2,
        pointRadius: 3,
        tension: 0,
        order: 0, // drawn over the bars
      };
    }
    return {
      type: "bar",
      label: series.name,
      data: series.values,
      backgroundColor: fill,
      borderRadius: data.kind === "stacked" ? 0 : 3,
      maxBarThickness: 48,
      order: 1,
    };
  });
}

function config(data) {
  const funnel = data.kind === "funnel";
  const stacked = data.kind === "stacked";
  const full = numberFormat(data);
  const tick = data.money ? compactMoney(data) : (value) => full(value);
  const valueAxis = {
    beginAtZero: true,
    stacked,
    grid: { color: GRID },
    border: { display: false },
    ticks: {
      color: MUTED,
      callback: (value) => tick(value),
      precision: data.money ? undefined : 0,
    },
  };
  const labelAxis = {
    stacked,
    grid: { display: false },
    ticks: { color: INK, autoSkip: !funnel },
  };
  const sets = datasets(data);
  if (funnel) {
    // A funnel: one horizontal bar per stage, widest at the top, fading as it narrows.
    sets.forEach((set) => {
      set.backgroundColor = data.labels.map((_, i) => shade(PALETTE[0], i, data.labels.length));
      set.maxBarThickness = 36;
    });
  }
  return {
    type: data.kind === "line" ? "line" : "bar",
    data: { labels: data.labels, datasets: sets },
    options: {
      indexAxis: funnel ? "y" : "x",
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      scales: funnel ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
      plugins: {
        legend: {
          display: sets.length > 1,
          position: "bottom",
          // In the series' order, though a line is drawn over the bars.
          labels: {
            color: INK,
            boxWidth: 12,
            boxHeight: 12,
            sort: (a, b) => a.datasetIndex - b.datasetIndex,
          },
        },
        tooltip: {
          callbacks: {
            label: (item) => {
              const raw = funnel ? item.parsed.x : item.parsed.y;
              return `${item.dataset.label}: ${full(raw)}`;
            },
          },
        },
      },
    },
  };
}

function shade(hex, index, count) {
  // From the full colour down to about 45% opacity over the stages.
  const alpha = count > 1 ? 1 - (0.55 * index) / (count - 1) : 1;
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha.toFixed(2)})`;
}

function drawChart() {
  const source = document.getElementById("report-chart-data");
  const canvas = document.getElementById("report-chart");
  if (!source || !canvas) return;
  const data = JSON.parse(source.textContent);
  if (!data || !data.labels || data.labels.length === 0) {
    canvas.closest("figure")?.setAttribute("hidden", "");
    return;
  }
  const box = canvas.parentElement;
  if (box && data.kind === "funnel") {
    // Height follows the number of stages, so every bar keeps a readable label.
    box.style.height = `${Math.max(220, 44 * data.labels.length + 40)}px`;
  }
  window.reportChart = new Chart(canvas, config(data));
}

function customDates() {
  const select = document.getElementById("report-period");
  if (!select) return;
  const form = select.form;
  const fields = form ? Array.from(form.querySelectorAll(".report-custom")) : [];
  if (fields.length === 0) return;
  const sync = () => {
    const custom = select.value === "custom";
    fields.forEach((label) => {
      label.hidden = !custom;
      // Hidden dates are not sent, so a named period's address stays clean.
      label.querySelectorAll("input").forEach((input) => {
        input.disabled = !custom;
      });
    });
  };
  select.addEventListener("change", () => {
    sync();
    if (select.value === "custom") {
      const first = fields[0].querySelector("input");
      if (first) first.focus();
    }
  });
  sync();
}

function start() {
  customDates();
  drawChart();
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
