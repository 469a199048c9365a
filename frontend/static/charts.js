// Charts of the pilot and run pages, drawn with the plotly.js that the app serves itself.
// The pilot's curves (the metric of the page's selector, test accuracy first) come from
// GET /api/v1/pilots/{id}/metrics?format=columns&keys=... and are redrawn (Plotly.react) every 3 s while any
// run is queued or running, so they gain points without a reload.
//
// Colours (issue 16): one per arm, the same in every chart of a pilot, the baseline grey. The server gives
// them (the chart's data-colours, from pilot_spec/colours.py, which the figures use too): this script keeps
// no palette of its own. Axes stay inside what a value can be (data-min/data-max of the metric's option).
//
// Speed (bench/pages.py: 35 runs x 200 epochs drawn in under 1 s): the pages preload the first chart's
// points (<link rel="preload" as="fetch">, the URL in the chart's data-src) and load this script deferred
// and *before* plotly.js, so it runs as soon as the document is parsed and takes up that request while the
// browser still parses plotly.js (about 1 MB); it draws once plotly.js has run. Long series are drawn as
// lines without markers (7,000 SVG markers were most of the drawing time; short ones keep them, so that a
// run with a single epoch still shows its point), and the pilot's runs as one trace per arm.
(function () {
  "use strict";
  // Colours the server could not name (an arm added after the page was made).
  const UNNAMED = "#888888";

  function theme() {
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue("--fg").trim() || "#222";
    const grid = css.getPropertyValue("--line").trim() || "#ddd";
    return {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: fg, size: 12 },
      // Ticks outside the plot: their labels keep clear of each other where the axes meet ("0" and "0").
      xaxis: { title: { text: "epoch" }, gridcolor: grid, zerolinecolor: grid, ticks: "outside", ticklen: 4, tickcolor: grid },
      yaxis: { gridcolor: grid, zerolinecolor: grid, ticks: "outside", ticklen: 4, tickcolor: grid },
      margin: { l: 50, r: 10, t: 30, b: 40 },
      // Above the plot: below it, the legend ran into the x axis's tick labels and title.
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" },
    };
  }

  // Plotly's autorange cut to [min, max] (either may be open; backend/figures/style.py value_axis does the
  // same for the figures): no accuracy above 1, no negative loss, and still zoomed in on the data.
  function bounded(axis, min, max) {
    const limits = {};
    if (min !== null && min !== "" && min !== undefined) limits.clipmin = Number(min);
    if (max !== null && max !== "" && max !== undefined) limits.clipmax = Number(max);
    return Object.assign(axis, { autorangeoptions: limits, automargin: true });
  }

  // Epochs are whole numbers: a tick every epoch up to a dozen of them (plotly's own steps below that are
  // halves, which a whole-number format printed as "1 1 2 2"), plotly's steps (whole at that length) above.
  function epochAxis(axis, lastEpoch) {
    axis.rangemode = "nonnegative";
    if (lastEpoch <= 12) Object.assign(axis, { tickmode: "linear", tick0: 0, dtick: 1 });
    return axis;
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

  // A redraw's request gives up after this long (the page's, frontend/rendering.py REFRESH_TIMEOUT_MS), so that one
  // answer lost on the way (a dropped connection, an API process restarted) delays the next redraw instead of
  // stopping the live chart for good.
  const REDRAW_TIMEOUT_MS = Number(document.body.dataset.refreshTimeoutMs);

  async function getColumns(url, timeoutMs) {
    const response = await fetch(url, timeoutMs ? { signal: AbortSignal.timeout(timeoutMs) } : {});
    return response.ok ? (await response.json()).columns : null;
  }

  // The page names the URL (data-src) where it also preloads it, so that the first fetch gets the preload.
  const pilotUrl = (el) => el.dataset.src || `/api/v1/pilots/${el.dataset.pilot}/metrics?format=columns&keys=${encodeURIComponent(el.dataset.key || "test_acc")}&max_points=${MAX_POINTS}`;
  const runUrl = (el) => el.dataset.src || `/api/v1/runs/${el.dataset.run}/metrics?format=columns&max_points=${MAX_POINTS}`;

  // The first draw's request, sent now (see the top); each later redraw asks again.
  const early = new Map();
  function ask(el, url) {
    const pending = early.get(el);
    early.delete(el);
    return pending || getColumns(url, REDRAW_TIMEOUT_MS);  // the first, preloaded request has no timeout
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

  // The metric the selector shows: its key, label and bounds (the option's data-min/data-max).
  function chosenMetric(el) {
    const select = document.getElementById("curve-metric");
    const option = select && select.selectedOptions[0];
    if (!option) return { key: el.dataset.key || "test_acc", label: el.dataset.key || "test_acc", min: 0, max: null };
    return { key: option.value, label: option.textContent.trim(), min: option.dataset.min, max: option.dataset.max };
  }

  async function drawPilot(el) {
    const arms = JSON.parse(el.dataset.arms || "{}");
    const colour = JSON.parse(el.dataset.colours || "{}");
    const metric = chosenMetric(el);
    const key = metric.key;
    // A newer draw (the selector changed meanwhile) wins: an older answer arriving late is dropped.
    const draw = (Number(el.dataset.draw || 0) + 1);
    el.dataset.draw = String(draw);
    const cols = await ask(el, pilotUrl(el));
    if (!cols || el.dataset.draw !== String(draw)) return;
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
        line: { color: colour[arm] || UNNAMED }, marker: { size: 4, color: colour[arm] || UNNAMED },
        // %{ is Plotly's template syntax: an arm name cannot inject a field either
        hovertemplate: `${esc(arm).replace(/%\{/g, "%&#123;")} (run %{customdata})<br>epoch %{x}: %{y:.4f}<extra></extra>` }));
    const layout = theme();
    layout.yaxis.title = { text: metric.label };
    bounded(layout.yaxis, metric.min, metric.max);
    epochAxis(layout.xaxis, Math.max(0, ...[...byRun.values()].map((pts) => Math.max(...pts.x))));
    layout.title = { text: traces.length ? "" : `no points of ${esc(metric.label)} yet`, font: { size: 12 } };
    await Plotly.react(el, traces, layout, CONFIG);
    el.setAttribute("aria-label", `${metric.label} per epoch of every run`);
    el.dataset.shown = key;
    el.dataset.points = String(cols.value.length);  // once drawn: what the tests and bench/pages.py wait for
  }

  // The run page's curves: the series the server lists (data-series: key, label, colour, axis and bounds),
  // shares on the left axis, losses on the right.
  async function drawRun(el) {
    const series = JSON.parse(el.dataset.series || "[]");
    const cols = await ask(el, runUrl(el));
    if (!cols) return;
    const byKey = new Map();
    for (let i = 0; i < cols.key.length; i++) {
      if (!byKey.has(cols.key[i])) byKey.set(cols.key[i], { x: [], y: [] });
      byKey.get(cols.key[i]).x.push(cols.epoch[i]);
      byKey.get(cols.key[i]).y.push(cols.value[i]);
    }
    const shown = series.filter((s) => byKey.has(s.key));
    const traces = shown.map((s) => ({
      x: byKey.get(s.key).x, y: byKey.get(s.key).y, name: esc(s.label), mode: mode(byKey.get(s.key).x.length),
      yaxis: s.axis, line: { color: s.colour, dash: s.axis === "y2" ? "dot" : "solid" }, marker: { size: 4 } }));
    const layout = theme();
    const left = shown.find((s) => s.axis === "y");
    const right = shown.find((s) => s.axis === "y2");
    epochAxis(layout.xaxis, Math.max(0, ...cols.epoch));
    layout.yaxis.title = { text: "accuracy" };
    bounded(layout.yaxis, left ? left.min : 0, left ? left.max : 1);
    // The loss axis: its tick labels were cut to their first digit ("0" on every tick) by a 10 px right
    // margin; automargin (in bounded) makes room for them. Its own ticks (not synced to the accuracy grid,
    // which gave values like 0.00353565), never below zero, no grid of its own to cross the left one's, and
    // no tick marks (one before a label read as a minus sign).
    layout.yaxis2 = bounded({ title: { text: "loss" }, overlaying: "y", side: "right", showgrid: false,
      zeroline: false, tickmode: "auto", ticks: "", ticklabelstandoff: 6 }, right ? right.min : 0, right ? right.max : null);
    layout.title = { text: traces.length ? "" : "no points yet", font: { size: 12 } };
    await Plotly.react(el, traces, layout, CONFIG);
    el.dataset.points = String(cols.value.length);
  }

  // A figure of panels (data-stack-below: the stability figure) is asked for with its panels in one column
  // where the chart is narrower than that many pixels: four side by side on a phone overlapped.
  const stacked = (el) => Boolean(el.dataset.stackBelow) && el.clientWidth < Number(el.dataset.stackBelow);

  // Plotly does not wrap titles: a long one is cut at a narrow chart's edges. Lines broken at spaces to fit
  // the chart's width (an average glyph is about 0.55 of the font size), and the top margin grown to keep
  // the title clear of the legend under it.
  function fitTitle(layout, width) {
    const title = layout.title;
    if (!title || !title.text) return;
    const size = width < 500 ? 14 : 17;
    const perLine = Math.max(12, Math.floor((width - 20) / (size * 0.55)));
    const before = title.text.split("<br>").length;
    const lines = title.text.split("<br>").flatMap((line) => {
      const out = [];
      for (const word of line.split(" ")) {
        if (out.length && (out[out.length - 1] + " " + word).length <= perLine) out[out.length - 1] += " " + word;
        else out.push(word);
      }
      return out;
    });
    Object.assign(title, { text: lines.join("<br>"), font: Object.assign({}, title.font, { size }) });
    layout.margin = Object.assign({}, layout.margin);
    // Twice the lines' height: the title is centred in the margin, so half of what it adds grows downwards.
    layout.margin.t = (layout.margin.t || 80) + 2 * Math.max(0, lines.length - before) * Math.ceil(size * 1.3);
  }

  async function drawFigure(el) {
    const wantStacked = stacked(el);
    const response = await fetch(wantStacked ? `${el.dataset.figure}?columns=1` : el.dataset.figure);
    if (!response.ok) return;
    const fig = await response.json();
    const layout = Object.assign({}, fig.layout || {});
    const t = theme();
    layout.paper_bgcolor = t.paper_bgcolor; layout.plot_bgcolor = t.plot_bgcolor; layout.font = t.font;
    // The page's grid colour on every axis (the figure's light template is dropped: it has a dark twin).
    for (const name of Object.keys(layout)) {
      if (/^[xy]axis\d*$/.test(name)) {
        layout[name] = Object.assign({}, layout[name], { gridcolor: t.xaxis.gridcolor, zerolinecolor: t.xaxis.gridcolor });
      }
    }
    delete layout.template;
    if (typeof layout.title === "string") layout.title = { text: layout.title };
    layout.title = Object.assign({}, layout.title);
    fitTitle(layout, el.clientWidth);
    await Plotly.react(el, fig.data || [], layout, CONFIG);
    el.dataset.stacked = wantStacked ? "1" : "0";
  }

  // Turning a phone or resizing the window across a figure's threshold asks for its other layout.
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      document.querySelectorAll("[data-figure][data-stack-below]").forEach((el) => {
        if (el.dataset.stacked !== undefined && (el.dataset.stacked === "1") !== stacked(el)) {
          drawFigure(el).catch((e) => console.warn(e));
        }
      });
    }, 250);
  });

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
    const select = document.getElementById("curve-metric");
    if (curves && select) select.addEventListener("change", () => {
      curves.dataset.key = select.value;
      delete curves.dataset.src;  // the preloaded URL is the first metric's
      drawPilot(curves).catch((e) => console.warn("chart update failed", e));
    });
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
