// A report link with data-busy ("Making the PDF…") shows that the report is being made: from the click until
// the download starts it is aria-busy, with a spinner and that text. The report is fetched as a blob and
// saved under the server's file name. A file of our own, not inline script: the CSP is script-src 'self'.
// Without JavaScript the link is a plain download link.
(function () {
  "use strict";

  function fileName(response, href) {
    const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return match ? match[1] : href.split("/").pop();
  }

  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const anchor = document.createElement("a");
    anchor.href = url;
    anchor.download = name;
    document.body.appendChild(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  async function download(link) {
    const label = link.innerHTML;
    const status = document.getElementById(link.dataset.status || "");
    link.setAttribute("aria-busy", "true");
    link.classList.add("busy");
    link.innerHTML = '<span class="spinner" aria-hidden="true"></span> ';
    link.append(link.dataset.busy);
    if (status) status.textContent = link.dataset.busy;
    try {
      const response = await fetch(link.href, { credentials: "same-origin" });
      if (!response.ok) {
        let detail = response.statusText;
        try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
        throw new Error(`${response.status} ${detail}`);
      }
      save(await response.blob(), fileName(response, link.href));
      if (status) status.textContent = "";
    } catch (error) {
      if (status) status.textContent = `The report could not be made: ${error.message}`;
    } finally {
      link.innerHTML = label;
      link.removeAttribute("aria-busy");
      link.classList.remove("busy");
    }
  }

  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[data-busy]") : null;
    // A modified click (new tab, save as) and a second click while busy keep the browser's own behaviour.
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    if (link.getAttribute("aria-busy") !== "true") download(link);
  });
})();
