// Small progressive enhancements of the shell; every control also works as a plain form without JS.
(function () {
  "use strict";
  function csrf() {
    var el = document.querySelector("input[name=csrfmiddlewaretoken]");
    return el ? el.value : "";
  }
  document.addEventListener("DOMContentLoaded", function () {
    // Menu collapse (guide §4): toggle at once, store the choice on the account in the background.
    var toggleForm = document.getElementById("menu-toggle-form");
    if (toggleForm) {
      toggleForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var collapsed = document.body.classList.toggle("menu-collapsed");
        var button = document.getElementById("menu-toggle");
        button.setAttribute("aria-pressed", collapsed ? "true" : "false");
        toggleForm.querySelector("input[name=collapsed]").value = collapsed ? "0" : "1";
        var body = new URLSearchParams({ collapsed: collapsed ? "1" : "0" });
        fetch(toggleForm.action, {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRFToken": csrf() },
        }).then(function (response) {
          toggleForm.dataset.saved = response.ok ? "1" : "0";
        });
      });
    }
    // Help window (guide §18).
    var help = document.getElementById("help-open");
    var dialog = document.getElementById("help-dialog");
    if (help && dialog) {
      help.addEventListener("click", function () { dialog.showModal(); });
    }
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  });
  // A page left open on another company must not receive fragments of this one (CONVENTIONS R5).
  document.addEventListener("htmx:afterRequest", function (event) {
    var expected = document.body.dataset.company;
    var got = event.detail.xhr && event.detail.xhr.getResponseHeader("X-Portal-Company");
    if (expected && got && expected !== got) { window.location.reload(); }
  });
})();
