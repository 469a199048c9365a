// Tables marked data-sortable sort in the page when a column's button is pressed: ascending first, then the
// other way; aria-sort on the header says which. Cells sort on their data-value (numbers as numbers when the
// column's data-kind is "number"); blank values go last either way. A file of our own, not inline script:
// the CSP is script-src 'self'. The run table is swapped in again by htmx while runs are live, so the chosen
// order is remembered per table id and applied again after each swap. Without JavaScript the buttons do
// nothing and the table keeps the server's order.
(function () {
  "use strict";
  const chosen = {}; // table id -> {column, ascending}

  function compare(a, b, numeric) {
    if (a === "" || b === "") return a === b ? 0 : a === "" ? 1 : -1;
    if (numeric) return Number(a) - Number(b);
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  }

  function apply(table, column, ascending) {
    const headers = table.tHead.rows[0].cells;
    const numeric = headers[column].dataset.kind === "number";
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).filter((row) => row.cells.length > column);
    const value = (row) => row.cells[column].dataset.value || "";
    rows.sort((x, y) => {
      const a = value(x), b = value(y);
      if (a === "" || b === "") return compare(a, b, numeric); // blanks last in both directions
      return ascending ? compare(a, b, numeric) : compare(b, a, numeric);
    });
    rows.forEach((row) => body.appendChild(row));
    Array.from(headers).forEach((th, index) => {
      th.setAttribute("aria-sort", index === column ? (ascending ? "ascending" : "descending") : "none");
    });
    if (table.id) chosen[table.id] = { column, ascending };
  }

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("th > button.sort") : null;
    const table = button ? button.closest("table[data-sortable]") : null;
    if (!table) return;
    const th = button.parentElement;
    apply(table, th.cellIndex, th.getAttribute("aria-sort") !== "ascending");
  });

  document.addEventListener("htmx:afterSettle", () => {
    Object.entries(chosen).forEach(([id, state]) => {
      const table = document.getElementById(id);
      if (table && table.tHead) apply(table, state.column, state.ascending);
    });
  });
})();
