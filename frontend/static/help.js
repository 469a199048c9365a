// The plain-words help of _help.html: a "?" button shows or hides its line of text (aria-expanded says which).
// Delegated from the document, so the fragments htmx swaps in (the comparison refreshes) work without setup.
"use strict";
(function () {
  function toggle(button, open) {
    const text = document.getElementById(button.getAttribute("aria-controls"));
    if (!text) return;
    button.setAttribute("aria-expanded", String(open));
    text.hidden = !open;
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button.help");
    if (button) toggle(button, button.getAttribute("aria-expanded") !== "true");
  });
  // Escape closes the help whose button has the focus, as a disclosure is expected to.
  document.addEventListener("keydown", function (event) {
    const button = document.activeElement;
    if (event.key === "Escape" && button && button.matches("button.help[aria-expanded='true']")) toggle(button, false);
  });
})();
