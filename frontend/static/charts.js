// Charts of the pilot and run pages, drawn with the plotly.js that the app serves itself.
// The pilot's accuracy curves come from GET /api/v1/pilots/{id}/metrics?format=columns and are redrawn
// (Plotly.react) every 3 s while any run is queued or running, so they gain points without a reload.
(function () {
  "use strict";
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

  function theme() {
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue("--fg").trim() || "#222";
    const grid = css.getPropertyValue("--line").trim() || "#ddd";
    return {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: fg, size: 12 },
      xaxis: { title: { text: "epoch" }, gridcolor: grid, zerolinecolor: grid },
      yaxis: { gridcolor: grid, zerolinecolor: grid },
      margin: { l: 50, r: 10, t: 30, b: 40 },
      legend: { orientation: "h", y: -0.2 },
    };
  }
  const CONFIG = { responsive: true, displaylogo: false };
  // At most this many points per line (the API strides longer series evenly, first and last kept).
  const MAX_POINTS = 1500;

  function liveRuns() {
    const grid = document.getElementById("runs");
    return grid ? Number(grid.dataset.live || 0) : 0;
  }

  async function drawPilot(el) {
    const arms = JSON.parse(el.dataset.arms || "{}");
    const key = el.dataset.key || "test_acc";
    const colour = {};
    Object.values(arms).forEach((arm) => { if (!(arm in colour)) colour[arm] = PALETTE[Object.keys(colour).length % PALETTE.length]; });
    const response = await fetch(`/api/v1/pilots/${el.dataset.pilot}/metrics?format=columns&keys=${key}&max_points=${MAX_POINTS}`);
    if (!response.ok) return;
    const cols = (await response.json()).columns;
    const byRun = new Map();
    for (let i = 0; i < cols.run_id.length; i++) {
      if (cols.key[i] !== key) continue;
      const run = cols.run_id[i];
      if (!byRun.has(run)) byRun.set(run, { x: [], y: [] });
      byRun.get(run).x.push(cols.epoch[i]);
      byRun.get(run).y.push(cols.value[i]);
    }
    const shown = new Set();
    const traces = [...byRun.entries()].map(([run, pts]) => {
      const arm = arms[run] || `run ${run}`;
      const first = !shown.has(arm);
      shown.add(arm);
      return { x: pts.x, y: pts.y, name: arm, legendgroup: arm, showlegend: first, mode: "lines+markers",
               line: { color: colour[arm] || "#888" }, marker: { size: 4 }, hovertemplate: `${arm} (run ${run})<br>epoch %{x}: %{y:.4f}<extra></extra>` };
    });
    const layout = theme();
    layout.yaxis.title = { text: key };
    layout.title = { text: traces.length ? "" : "no points yet", font: { size: 12 } };
    el.dataset.points = String(cols.value.length);
    await Plotly.react(el, traces, layout, CONFIG);
  }

  async function drawRun(el) {
    const response = await fetch(`/api/v1/runs/${el.dataset.run}/metrics?format=columns&max_points=${MAX_POINTS}`);
    if (!response.ok) return;
    const cols = (await response.json()).columns;
    const byKey = new Map();
    for (let i = 0; i < cols.key.length; i++) {
      if (!byKey.has(cols.key[i])) byKey.set(cols.key[i], { x: [], y: [] });
      byKey.get(cols.key[i]).x.push(cols.epoch[i]);
      byKey.get(cols.key[i]).y.push(cols.value[i]);
    }
    const wanted = ["test_acc", "train_acc", "train_loss", "test_loss"];
    const traces = wanted.filter((k) => byKey.has(k)).map((k, i) => ({
      x: byKey.get(k).x, y: byKey.get(k).y, name: k, mode: "lines+markers", yaxis: k.endsWith("loss") ? "y2" : "y",
      line: { color: PALETTE[i] }, marker: { size: 4 } }));
    const layout = theme();
    layout.yaxis.title = { text: "accuracy" };
    layout.yaxis2 = { title: { text: "loss" }, overlaying: "y", side: "right", gridcolor: "rgba(0,0,0,0)" };
    layout.title = { text: traces.length ? "" : "no points yet", font: { size: 12 } };
    await Plotly.react(el, traces, layout, CONFIG);
  }

  async function drawFigure(el) {
    const response = await fetch(el.dataset.figure);
    if (!response.ok) return;
    const fig = await response.json();
    const layout = Object.assign({}, fig.layout || {});
    const t = theme();
    layout.paper_bgcolor = t.paper_bgcolor; layout.plot_bgcolor = t.plot_bgcolor; layout.font = t.font;
    delete layout.template;
    await Plotly.react(el, fig.data || [], layout, CONFIG);
  }

  function every(ms, fn, stillLive) {
    const tick = async () => {
      try { await fn(); } catch (error) { console.warn("chart update failed", error); }
      if (stillLive()) setTimeout(tick, ms);
    };
    tick();
  }

  function start() {
    const curves = document.getElementById("curves");
    // The comparison figures each cost the server a summary: ask for them once the curves are drawn, so
    // that the chart a user waits for gets the machine first.
    let figuresAsked = false;
    const figures = () => {
      if (figuresAsked) return;
      figuresAsked = true;
      document.querySelectorAll("[data-figure]").forEach((el) => drawFigure(el).catch((e) => console.warn(e)));
    };
    // Redraw while runs are live, once more when they stop, and again if a retry makes them live.
    if (curves) every(3000, async () => {
      const live = liveRuns() > 0;
      if (live || curves.dataset.final !== "1") {
        curves.dataset.final = live ? "0" : "1";
        try { await drawPilot(curves); } finally { figures(); }
      }
    }, () => true);
    else figures();
    const run = document.getElementById("run-curves");
    if (run) every(3000, () => drawRun(run), () => run.dataset.live === "1");
    // The comparison refreshes itself while runs are live and after an ROI edit; the figures under it show
    // the same analysis, so they are drawn again each time it changes (the runs grid's swaps are not).
    document.body.addEventListener("htmx:afterSwap", (event) => {
      const target = event.detail && event.detail.target;
      if (!target || target.id === "runs" || !figuresAsked) return;
      document.querySelectorAll("[data-figure]").forEach((el) => drawFigure(el).catch((e) => console.warn(e)));
    });
  }
  document.addEventListener("DOMContentLoaded", start);
})();
