// The pilots page's status filter applies as soon as a status is chosen. A listener in a file of our own,
// not an inline onchange attribute: the Content-Security-Policy (script-src 'self') blocks inline handlers.
// Without JavaScript the filter's own button (in <noscript>) submits it.
(function () {
  "use strict";
  document.addEventListener("change", (event) => {
    const select = event.target;
    if (select instanceof HTMLSelectElement && select.hasAttribute("data-autosubmit") && select.form) {
      select.form.submit();
    }
  });
})();
