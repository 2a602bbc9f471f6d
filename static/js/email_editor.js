// The e-mail block editor (guide §7.4.5.1; channels_out/email_design): drag and drop with SortableJS (vendored,
// static/vendor/sortable-*.min.js), the device preview, and the text toolbar (bold, italic, link, personalisation).
// The server owns the design: after a drag this only asks the editor to re-render (its order inputs moved with
// the blocks). Loaded with every render of the editor, so it installs its listeners once.
(function () {
  "use strict";
  if (window.emailEditor) {
    window.emailEditor.init(document);
    return;
  }
  var devices = {}; // editor id → the device chosen, kept across re-renders
  var lastField = {}; // editor id → id of the text field last focused

  function editorOf(element) {
    return element && element.closest ? element.closest("[data-eml-editor]") : null;
  }

  function refresh(editor) {
    // An event, not a click on a button: SortableJS swallows the click that follows a drop.
    window.setTimeout(function () {
      if (window.htmx && editor.isConnected) { window.htmx.trigger(editor, "eml-refresh"); }
    }, 0);
  }

  function showDevice(editor, device) {
    var preview = editor.querySelector(".eml-preview");
    if (!preview) { return; }
    preview.setAttribute("data-device", device);
    editor.querySelectorAll("[data-eml-device]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-eml-device") === device ? "true" : "false");
    });
    devices[editor.id] = device;
  }

  function init(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var editors = [];
    if (scope.matches && scope.matches("[data-eml-editor]")) { editors.push(scope); }
    scope.querySelectorAll("[data-eml-editor]").forEach(function (e) { editors.push(e); });
    editors.forEach(function (editor) {
      if (devices[editor.id]) { showDevice(editor, devices[editor.id]); }
      if (!window.Sortable) { return; }
      editor.querySelectorAll("[data-eml-sortable]").forEach(function (list) {
        if (list.getAttribute("data-eml-sortable-ready")) { return; }
        list.setAttribute("data-eml-sortable-ready", "1");
        window.Sortable.create(list, {
          handle: ".eml-handle",
          draggable: ".eml-block",
          animation: 150,
          onEnd: function (event) {
            if (event.oldIndex !== event.newIndex) { refresh(editor); }
          },
        });
      });
    });
  }

  function insert(field, before, after, fallback) {
    var start = field.selectionStart === undefined || field.selectionStart === null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd === undefined || field.selectionEnd === null ? start : field.selectionEnd;
    var selected = field.value.slice(start, end) || fallback;
    field.value = field.value.slice(0, start) + before + selected + after + field.value.slice(end);
    field.focus();
    var caret = start + before.length + selected.length + after.length;
    field.setSelectionRange(caret, caret);
    field.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener("focusin", function (event) {
    var field = event.target.closest && event.target.closest("[data-eml-text]");
    var editor = editorOf(field);
    if (field && editor) { lastField[editor.id] = field.id; }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-eml-device], [data-eml-wrap], [data-eml-link], [data-eml-insert]");
    var editor = editorOf(button);
    if (!button || !editor) { return; }
    if (button.hasAttribute("data-eml-device")) {
      showDevice(editor, button.getAttribute("data-eml-device"));
      return;
    }
    var field = document.getElementById(lastField[editor.id] || "");
    if (!field || !editor.contains(field)) {
      field = editor.querySelector("textarea[data-eml-text]");
    }
    if (!field) { return; }
    if (button.hasAttribute("data-eml-insert")) {
      insert(field, button.getAttribute("data-eml-insert"), "", "");
    } else if (button.hasAttribute("data-eml-wrap")) {
      var mark = button.getAttribute("data-eml-wrap");
      insert(field, mark, mark, "");
    } else {
      var url = window.prompt(button.getAttribute("data-eml-prompt") || "https://", "https://");
      if (url) { insert(field, "[", "](" + url + ")", url); }
    }
  });

  document.addEventListener("htmx:load", function (event) { init(event.target); });
  window.emailEditor = { init: init };
  init(document);
})();
