// The compare page's chart (issue 16): the figure the page carries in data-plot (built by the server from the
// same comparison as the table), drawn with the plotly.js the app serves, in the page's colours (light or
// dark). A file of our own: the Content-Security-Policy (script-src 'self') runs no inline script.
(function () {
  "use strict";
  function draw() {
    const el = document.getElementById("compare-chart");
    if (!el || typeof Plotly === "undefined") return;
    const fig = JSON.parse(el.dataset.plot);
    const config = JSON.parse(el.dataset.config || "{}");
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue("--fg").trim() || "#222";
    const grid = css.getPropertyValue("--line").trim() || "#ddd";
    const layout = Object.assign({}, fig.layout || {});
    delete layout.template;
    layout.paper_bgcolor = "rgba(0,0,0,0)";
    layout.plot_bgcolor = "rgba(0,0,0,0)";
    layout.font = { color: fg, size: 12 };
    for (const axis of ["xaxis", "yaxis"]) {
      layout[axis] = Object.assign({}, layout[axis] || {}, { gridcolor: grid, zerolinecolor: grid, linecolor: grid });
    }
    // A narrow screen: a shorter title, so that it does not run off the chart.
    if (el.clientWidth < 500 && layout.title) layout.title = Object.assign({}, layout.title, { text: "Accuracy against cost" });
    Plotly.newPlot(el, fig.data || [], layout, config).then(() => {
      // What the tests wait for: the points drawn (one per pilot and arm).
      el.dataset.points = String(el.querySelectorAll(".scatterlayer .point").length);
    });
  }
  const plotly = document.querySelector('script[src$="/plotly-basic.min.js"]');
  let done = false;
  const once = () => { if (!done && typeof Plotly !== "undefined") { done = true; draw(); } };
  if (plotly) plotly.addEventListener("load", once);
  document.addEventListener("DOMContentLoaded", once);
  if (document.readyState !== "loading") once();
})();
