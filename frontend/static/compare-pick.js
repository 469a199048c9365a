// The pilots list's Compare form (issue 16): says how many pilots are ticked, and with fewer than the least
// (or more than the most) says what to do instead of leaving for an error page. Without JavaScript the form
// still works: /compare answers the same advice in words.
(function () {
  "use strict";
  const form = document.getElementById("compare-form");
  if (!form) return;
  const hint = document.getElementById("compare-hint");
  const least = Number(form.dataset.min || 2);
  const most = Number(form.dataset.max || 12);
  const ticked = () => document.querySelectorAll('input[type=checkbox][form="compare-form"]:checked').length;
  function say(strong) {
    const n = ticked();
    let text;
    if (n < least) text = n === 0 ? `Tick at least ${least} pilots in the list, then press Compare.` : `${n} ticked: tick at least ${least} pilots to compare them.`;
    else if (n > most) text = `${n} ticked: compare at most ${most} pilots at once; untick ${n - most}.`;
    else text = `${n} pilots ticked: press Compare to see them side by side.`;
    hint.textContent = text;
    hint.classList.toggle("err", strong && (n < least || n > most));
    return n >= least && n <= most;
  }
  form.addEventListener("submit", (event) => {
    if (!say(true)) event.preventDefault();
  });
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (box instanceof HTMLInputElement && box.getAttribute("form") === "compare-form") say(false);
  });
})();
