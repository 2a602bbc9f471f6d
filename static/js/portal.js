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

// List filter panel (guide §7.3): find a column by name, show only the match modes that column has.
(function () {
  "use strict";
  function setup(root) {
    root.querySelectorAll("[data-filter-panel]:not([data-ready])").forEach(function (panel) {
      panel.dataset.ready = "1";
      var column = panel.querySelector("[data-filter-column]");
      var search = panel.querySelector("[data-filter-search]");
      function sync() {
        var option = column.options[column.selectedIndex];
        var modes = option ? option.dataset.modes.split(",") : [];
        panel.querySelectorAll("[data-mode]").forEach(function (label) {
          var allowed = modes.indexOf(label.dataset.mode) >= 0;
          label.hidden = !allowed;
          if (!allowed) { label.querySelector("input").checked = false; }
        });
        if (!panel.querySelector("input[name=mode]:checked")) {
          var first = panel.querySelector("[data-mode]:not([hidden]) input");
          if (first) { first.checked = true; }
        }
        var mode = (panel.querySelector("input[name=mode]:checked") || {}).value;
        panel.querySelectorAll("[data-mode-input]").forEach(function (box) {
          box.hidden = box.dataset.modeInput !== mode;
        });
      }
      column.addEventListener("change", sync);
      panel.addEventListener("change", function (event) { if (event.target.name === "mode") { sync(); } });
      if (search) {
        search.addEventListener("input", function () {
          var term = search.value.toLowerCase();
          var firstMatch = null;
          Array.prototype.forEach.call(column.options, function (option) {
            var match = option.text.toLowerCase().indexOf(term) >= 0;
            option.hidden = !match;
            if (match && !firstMatch) { firstMatch = option; }
          });
          if (firstMatch) { column.value = firstMatch.value; sync(); }
        });
      }
      sync();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { setup(document); });
  document.addEventListener("htmx:afterSwap", function (event) { setup(event.detail.target.parentNode || document); });
})();

// Forms: confirmation before destructive posts, tabs of panels, role template picker, character counters.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);
  function setup(root) {
    root.querySelectorAll("[data-tabs]:not([data-ready])").forEach(function (nav) {
      nav.dataset.ready = "1";
      var form = nav.parentNode;
      function show(id) {
        nav.querySelectorAll("[data-tab]").forEach(function (a) { a.classList.toggle("active", a.dataset.tab === id); });
        form.querySelectorAll("[data-tab-panel]").forEach(function (p) { p.hidden = p.id !== id; });
      }
      nav.addEventListener("click", function (event) {
        var link = event.target.closest("[data-tab]");
        if (link) { event.preventDefault(); show(link.dataset.tab); }
      });
      var withError = form.querySelector("[data-tab-panel] .errorlist");
      show(withError ? withError.closest("[data-tab-panel]").id : nav.querySelector("[data-tab]").dataset.tab);
    });
    root.querySelectorAll("[data-template-select]:not([data-ready])").forEach(function (select) {
      select.dataset.ready = "1";
      select.addEventListener("change", function () { if (select.value) { window.location = select.value; } });
    });
    root.querySelectorAll("[data-counter-for]:not([data-ready])").forEach(function (counter) {
      counter.dataset.ready = "1";
      var input = document.getElementById(counter.dataset.counterFor);
      if (!input) { return; }
      function update() { counter.textContent = input.value.length + " / " + counter.dataset.max; }
      input.addEventListener("input", update);
      update();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { setup(document); });
  document.addEventListener("htmx:afterSwap", function (event) { setup(event.detail.target.parentNode || document); });
})();

// My account (guide §17): theme switch at once, Generate password, avatar auto-upload, delete-account word.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  function csrf() {
    var el = document.querySelector("input[name=csrfmiddlewaretoken]");
    return el ? el.value : "";
  }
  document.addEventListener("click", function (event) {
    var choice = event.target.closest("[data-theme-choice]");
    if (choice) {
      // Appearance: apply the theme now and keep it on the account in the background.
      event.preventDefault();
      var theme = choice.dataset.themeChoice;
      document.documentElement.setAttribute("data-theme", theme);
      choice.form.querySelectorAll("[data-theme-choice]").forEach(function (b) {
        b.setAttribute("aria-pressed", b === choice ? "true" : "false");
      });
      fetch(choice.form.action, {
        method: "POST", body: new URLSearchParams({ theme: theme }), credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), "X-Requested-With": "fetch" },
      }).then(function (response) { choice.form.dataset.saved = response.ok ? theme : "error"; });
      return;
    }
    var generate = event.target.closest("#password-generate");
    if (generate) {
      event.preventDefault();
      fetch(generate.dataset.generateUrl, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          [generate.dataset.target, generate.dataset.confirm].forEach(function (selector) {
            var input = document.querySelector(selector);
            if (input) { input.value = data.password; input.type = "text"; }
          });
        });
    }
  });
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.matches && input.matches("input[type=file][data-autosubmit]") && input.files.length) {
      if (window.htmx) { window.htmx.trigger(input.form, "submit"); } else { input.form.submit(); }
    }
  });
  function syncDeleteButton(root) {
    root.querySelectorAll("[data-confirm-word]").forEach(function (input) {
      var button = input.form.querySelector("#delete-confirm");
      if (!button) { return; }
      function update() { button.disabled = input.value !== input.dataset.confirmWord; }
      input.addEventListener("input", update);
      update();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { syncDeleteButton(document); });
  document.addEventListener("htmx:afterSwap", function (event) { syncDeleteButton(event.detail.target.parentNode || document); });
})();

// Contacts mass edit (guide §8.1.5): selection counter, select the whole page, no Delete with all records chosen.
(function () {
  "use strict";
  function setupMass(root) {
    var form = root.querySelector && root.querySelector("[data-mass-form]:not([data-ready])");
    if (!form) { return; }
    form.dataset.ready = "1";
    var counter = form.querySelector("[data-mass-count]");
    var del = form.querySelector("[data-mass-delete]");
    function rows() { return document.querySelectorAll("input[data-mass-row][form='" + form.id + "']"); }
    function update() {
      var n = 0;
      rows().forEach(function (box) { if (box.checked) { n += 1; } });
      if (counter) { counter.textContent = String(n); }
      var all = form.querySelector("[data-mass-scope][value=all]");
      if (del) { del.hidden = Boolean(all && all.checked); }
    }
    document.addEventListener("change", function (event) {
      if (event.target.matches("[data-mass-row], [data-mass-scope]")) { update(); }
    });
    var pageButton = form.querySelector("[data-mass-page]");
    if (pageButton) {
      pageButton.addEventListener("click", function () {
        rows().forEach(function (box) { box.checked = true; });
        update();
      });
    }
    update();
  }
  document.addEventListener("DOMContentLoaded", function () { setupMass(document); });
  document.addEventListener("htmx:afterSwap", function () { setupMass(document); });
})();

// Broadcasts composer (guide §9.2): a placeholder button inserts {{attribute}} at the cursor of its step's text and
// fires "change" so the server-rendered SMS counter recounts.
(function () {
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-insert]");
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-into"));
    if (!field) { return; }
    var code = button.getAttribute("data-insert");
    var start = field.selectionStart || field.value.length;
    var end = field.selectionEnd || start;
    field.value = field.value.slice(0, start) + code + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + code.length, start + code.length);
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();

// Import contacts (guide §8.2): drag and drop onto the file field; Next of step 3 waits for a phoneNumber column.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
      var input = zone.querySelector("[data-dropzone-input]");
      var name = zone.querySelector("[data-dropzone-name]");
      function show() { if (name && input.files.length) { name.textContent = input.files[0].name; } }
      input.addEventListener("change", show);
      zone.addEventListener("dragover", function (event) { event.preventDefault(); zone.classList.add("dragover"); });
      zone.addEventListener("dragleave", function () { zone.classList.remove("dragover"); });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        zone.classList.remove("dragover");
        if (event.dataTransfer && event.dataTransfer.files.length) { input.files = event.dataTransfer.files; show(); }
      });
    });
    document.querySelectorAll("[data-mapping-form]").forEach(function (form) {
      var next = form.querySelector("[data-mapping-next]");
      function sync() {
        var mapped = Array.prototype.some.call(form.querySelectorAll("[data-mapping-select]"), function (s) {
          return s.value === "phone";
        });
        next.disabled = !mapped;
      }
      form.addEventListener("change", sync);
      sync();
    });
  });
})();
