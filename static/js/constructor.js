// Message constructor (issue 8): the editor itself is server-rendered through htmx; this only sends the
// personalisation buttons to the field last focused in a step's editor and keeps the character counts live.
(function () {
  "use strict";
  document.addEventListener("focusin", function (event) {
    var editor = event.target.closest(".constructor");
    if (editor && event.target.matches("textarea, input[type=text]")) {
      editor.dataset.lastField = event.target.id;
    }
  });
  // Capture phase: runs before portal.js inserts the code into the element named by data-into.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-placeholders-for] [data-insert]");
    if (!button) { return; }
    var bar = button.closest("[data-placeholders-for]");
    var editor = document.getElementById(bar.dataset.placeholdersFor);
    if (!editor) { return; }
    var field = (editor.dataset.lastField && document.getElementById(editor.dataset.lastField)) ||
      editor.querySelector(".constructor-fields textarea, .constructor-fields input[type=text]");
    if (field) { button.setAttribute("data-into", field.id); }
  }, true);
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!field.matches(".constructor [data-counter]")) { return; }
    var count = document.querySelector("[data-count-for='" + field.id + "']");
    if (count) { count.textContent = field.value.length + " / " + field.getAttribute("maxlength"); }
  });
})();
