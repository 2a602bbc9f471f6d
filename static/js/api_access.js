// API Accesses (guide §15.1): copy the key shown once to the clipboard. Without JS the key stays selectable.
(function () {
  "use strict";
  function flash(button, text) {
    var original = button.dataset.originalLabel || button.textContent;
    button.dataset.originalLabel = original;
    button.textContent = text;
    window.setTimeout(function () { button.textContent = original; }, 2000);
  }
  // Delegated, so the button also works in panels swapped in by htmx.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    var field = document.getElementById(button.dataset.copyTarget);
    if (!field) { return; }
    field.focus();
    field.select();
    var copied = button.dataset.copiedLabel;
    var failed = button.dataset.failedLabel;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { flash(button, copied); },
        function () { flash(button, failed); }
      );
      return;
    }
    // Plain-HTTP pages (development) have no async clipboard API; fall back to the selection copy.
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    flash(button, ok ? copied : failed);
  });
})();
