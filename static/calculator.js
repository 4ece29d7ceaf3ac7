// The lesson calculators' enhancement. Without this file (or htmx) each
// calculator is a plain GET form that reloads the lesson with the result.
// With it, htmx fetches the result alone on every change; this file only
// adjusts htmx to the page. Loaded deferred after htmx.min.js; no inline
// code (the CSP allows only our own scripts).
(function () {
  "use strict";

  const htmx = window.htmx;
  if (!htmx) {
    return;
  }
  // Our CSP has no 'unsafe-eval' and no inline styles.
  htmx.config.allowEval = false;
  htmx.config.includeIndicatorStyles = false;

  // A calculator answers a wrong input with 400 and the messages to show:
  // swap it like a success (htmx leaves 4xx bodies out by default).
  document.addEventListener("htmx:beforeSwap", function (evt) {
    const d = evt.detail;
    if (d.xhr && d.xhr.status === 400 && d.target && d.target.closest(".calculator")) {
      d.shouldSwap = true;
      d.isError = false;
    }
  });

  // The messages arrive out of band; keep each field's aria-invalid in
  // step with whether its message slot says anything.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll(".calculator .field-error").forEach(function (slot) {
      const field = document.getElementById(slot.id.replace(/-error$/, ""));
      if (!field) {
        return;
      }
      if (slot.textContent.trim() === "") {
        field.removeAttribute("aria-invalid");
      } else {
        field.setAttribute("aria-invalid", "true");
      }
    });
  });
})();
