// The new-pilot form's errors (issue 16): after a refused submit the page opens on the error summary; a
// summary link opens the folded section its field sits in and moves the focus to the field; an estimate
// that marks a folded field unfolds its section. No inline script: the CSP allows only 'self'.
(function () {
  "use strict";

  function reveal(element) {
    for (let node = element.parentElement; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") node.open = true;
    }
  }

  function openMarkedSections() {
    document.querySelectorAll("form#new-pilot details").forEach(function (section) {
      const marked = Array.from(section.querySelectorAll(".err")).some(function (slot) {
        return slot.textContent.trim() !== "";
      });
      if (marked) section.open = true;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const summary = document.getElementById("error-summary");
    if (summary && document.activeElement !== summary) summary.focus();
    openMarkedSections();
  });

  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest(".error-summary a[href^='#']");
    if (!link) return;
    const field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    reveal(field);
    field.focus();
    const label = document.querySelector("label[for='" + field.id + "']");
    (label || field).scrollIntoView({ block: "center" });
  });

  document.addEventListener("htmx:afterSettle", openMarkedSections);
})();
