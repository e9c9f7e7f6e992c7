// LabelHub behaviour for the labelling page. Loaded as a static file (the CSP forbids inline
// scripts); listeners sit on `document`, so they keep working after htmx swaps in a new task.
(function () {
  "use strict";

  const IDLE_AFTER_MS = 60000; // no input for a minute: the expert is not working on the item
  const state = { key: null, seconds: 0, lastInput: Date.now() };

  function taskForm() {
    return document.querySelector("form[data-task-form]");
  }

  function typingIn(target) {
    return target instanceof Element && target.closest("textarea, input[type=text], select");
  }

  document.addEventListener("keydown", function (event) {
    state.lastInput = Date.now();
    const form = taskForm();
    if (!form) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typingIn(event.target)) return;
    const input = form.querySelector('input[data-key="' + event.key.toLowerCase() + '"]');
    if (input) {
      event.preventDefault();
      input.checked = true;
      input.focus();
    }
  });

  ["mousemove", "mousedown", "scroll", "touchstart"].forEach(function (name) {
    document.addEventListener(name, function () { state.lastInput = Date.now(); }, { passive: true });
  });

  // Active time: seconds with the tab visible and recent input, sent with the submission.
  window.setInterval(function () {
    const form = taskForm();
    if (!form) return;
    const key = form.querySelector('input[name="idempotency_key"]').value;
    const field = form.querySelector("input[data-active-seconds]");
    if (key !== state.key) {
      state.key = key;
      state.seconds = parseInt(field.value, 10) || 0;
    }
    if (!document.hidden && Date.now() - state.lastInput < IDLE_AFTER_MS) {
      state.seconds += 1;
      field.value = String(state.seconds);
    }
  }, 1000);

  // After a new task arrives, put the focus at its top so the keys act on it at once.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "task") {
      const task = document.getElementById("task");
      if (task) {
        task.setAttribute("tabindex", "-1");
        task.focus({ preventScroll: false });
        window.scrollTo({ top: 0 });
      }
    }
  });
})();
