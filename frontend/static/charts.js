// Charts of the pilot and run pages, drawn with the plotly.js that the app serves itself.
// The pilot's accuracy curves come from GET /api/v1/pilots/{id}/metrics?format=columns and are redrawn
// (Plotly.react) every 3 s while any run is queued or running, so they gain points without a reload.
//
// Speed (bench/pages.py: 35 runs x 200 epochs drawn in under 1 s): the pages preload the first chart's
// points (<link rel="preload" as="fetch">, the URL in the chart's data-src) and load this script deferred
// and *before* plotly.js, so it runs as soon as the document is parsed and takes up that request while the
// browser still parses plotly.js (about 1 MB); it draws once plotly.js has run. Long series are drawn as
// lines without markers (7,000 SVG markers were most of the drawing time; short ones keep them, so that a
// run with a single epoch still shows its point), and the pilot's runs as one trace per arm.
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
  // No logo, and no button that sends a chart to Plotly's cloud (backend/figures/style.py PLOTLY_CONFIG).
  const CONFIG = {
    responsive: true, displaylogo: false, showSendToCloud: false,
    modeBarButtonsToRemove: ["sendChartToCloud", "sendDataToCloud"],
  };
  // plotly.js renders a subset of HTML in names, legends and hover text: arm names are escaped.
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  // At most this many points per line (the API strides longer series evenly, first and last kept).
  const MAX_POINTS = 1500;
  // Lines with at most this many points also get a marker at each point.
  const MARKERS_UP_TO = 30;

  function mode(points) {
    return points <= MARKERS_UP_TO ? "lines+markers" : "lines";
  }

  async function getColumns(url) {
    const response = await fetch(url);
    return response.ok ? (await response.json()).columns : null;
  }

  // The page names the URL (data-src) where it also preloads it, so that the first fetch gets the preload.
  const pilotUrl = (el) => el.dataset.src || `/api/v1/pilots/${el.dataset.pilot}/metrics?format=columns&keys=${el.dataset.key || "test_acc"}&max_points=${MAX_POINTS}`;
  const runUrl = (el) => el.dataset.src || `/api/v1/runs/${el.dataset.run}/metrics?format=columns&max_points=${MAX_POINTS}`;

  // The first draw's request, sent now (see the top); each later redraw asks again.
  const early = new Map();
  function ask(el, url) {
    const pending = early.get(el);
    early.delete(el);
    return pending || getColumns(url);
  }
  for (const [id, url] of [["curves", pilotUrl], ["run-curves", runUrl]]) {
    const el = document.getElementById(id);
    if (el) {
      const pending = getColumns(url(el));
      pending.catch(() => {});  // a failure is reported by the draw that awaits it
      early.set(el, pending);
    }
  }

  function liveRuns() {
    const grid = document.getElementById("runs");
    return grid ? Number(grid.dataset.live || 0) : 0;
  }

  async function drawPilot(el) {
    const arms = JSON.parse(el.dataset.arms || "{}");
    const key = el.dataset.key || "test_acc";
    const colour = {};
    Object.values(arms).forEach((arm) => { if (!(arm in colour)) colour[arm] = PALETTE[Object.keys(colour).length % PALETTE.length]; });
    const cols = await ask(el, pilotUrl(el));
    if (!cols) return;
    const byRun = new Map();
    for (let i = 0; i < cols.run_id.length; i++) {
      if (cols.key[i] !== key) continue;
      const run = cols.run_id[i];
      if (!byRun.has(run)) byRun.set(run, { x: [], y: [] });
      byRun.get(run).x.push(cols.epoch[i]);
      byRun.get(run).y.push(cols.value[i]);
    }
    // A trace per arm, its runs one after another with a gap (null) between them: the same lines as a trace
    // per run, and the hover still names the run (customdata), for a fraction of plotly's per-trace work.
    const byArm = new Map();
    for (const [run, pts] of byRun) {
      const arm = arms[run] || `run ${run}`;
      if (!byArm.has(arm)) byArm.set(arm, { x: [], y: [], run: [], longest: 0 });
      const t = byArm.get(arm);
      if (t.x.length) { t.x.push(null); t.y.push(null); t.run.push(null); }
      t.x.push(...pts.x);
      t.y.push(...pts.y);
      t.run.push(...pts.x.map(() => run));
      t.longest = Math.max(t.longest, pts.x.length);
    }
    const traces = [...byArm.entries()].map(([arm, t]) => (
      { x: t.x, y: t.y, customdata: t.run, name: esc(arm), mode: mode(t.longest), connectgaps: false,
        line: { color: colour[arm] || "#888" }, marker: { size: 4 },
        // %{ is Plotly's template syntax: an arm name cannot inject a field either
        hovertemplate: `${esc(arm).replace(/%\{/g, "%&#123;")} (run %{customdata})<br>epoch %{x}: %{y:.4f}<extra></extra>` }));
    const layout = theme();
    layout.yaxis.title = { text: key };
    layout.title = { text: traces.length ? "" : "no points yet", font: { size: 12 } };
    await Plotly.react(el, traces, layout, CONFIG);
    el.dataset.points = String(cols.value.length);  // once drawn: what the tests and bench/pages.py wait for
  }

  async function drawRun(el) {
    const cols = await ask(el, runUrl(el));
    if (!cols) return;
    const byKey = new Map();
    for (let i = 0; i < cols.key.length; i++) {
      if (!byKey.has(cols.key[i])) byKey.set(cols.key[i], { x: [], y: [] });
      byKey.get(cols.key[i]).x.push(cols.epoch[i]);
      byKey.get(cols.key[i]).y.push(cols.value[i]);
    }
    const wanted = ["test_acc", "train_acc", "train_loss", "test_loss"];
    const traces = wanted.filter((k) => byKey.has(k)).map((k, i) => ({
      x: byKey.get(k).x, y: byKey.get(k).y, name: k, mode: mode(byKey.get(k).x.length), yaxis: k.endsWith("loss") ? "y2" : "y",
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
    // The comparison figures each cost the server a summary: ask for them once the curves are drawn and
    // painted (the task after the next frame), so that the chart a user waits for gets the machine first.
    let figuresAsked = false;
    const figures = () => {
      if (figuresAsked) return;
      figuresAsked = true;
      requestAnimationFrame(() => setTimeout(() => {
        document.querySelectorAll("[data-figure]").forEach((el) => drawFigure(el).catch((e) => console.warn(e)));
      }, 0));
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
  // Deferred before plotly.js, this runs before it: draw as soon as it has run (its script's load event,
  // which comes before DOMContentLoaded and the work of htmx and others on it), or at DOMContentLoaded.
  let started = false;
  const once = () => {
    if (started || typeof Plotly === "undefined") return;
    started = true;
    start();
  };
  const plotly = document.querySelector('script[src$="/plotly-basic.min.js"]');
  if (plotly) plotly.addEventListener("load", once);
  document.addEventListener("DOMContentLoaded", once);
  if (document.readyState !== "loading") once();
})();
