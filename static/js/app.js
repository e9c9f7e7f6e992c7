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

  // Key groups: each question on the form (the choice, the strength, every rubric criterion) is a
  // [data-keygroup] whose options carry data-key. A key acts on the current group (the focused
  // one, else the first unanswered) and then moves on, so an expert can answer without a mouse.
  function keyGroups(form) {
    return Array.prototype.slice.call(form.querySelectorAll("[data-keygroup]"));
  }

  function currentGroup(form) {
    const active = document.activeElement;
    const focused = active && active.closest ? active.closest("[data-keygroup]") : null;
    if (focused && form.contains(focused)) return focused;
    return keyGroups(form).find(function (group) { return !group.querySelector("input:checked"); }) || null;
  }

  function focusGroup(group) {
    document.querySelectorAll("[data-keygroup].current").forEach(function (g) { g.classList.remove("current"); });
    if (!group) return;
    group.classList.add("current");
    const target = group.querySelector("input:checked") || group.querySelector("input");
    if (target) target.focus();
  }

  function answer(form, key) {
    const group = currentGroup(form);
    let input = group ? group.querySelector('input[data-key="' + key + '"]') : null;
    if (!input) {
      // A key that belongs to a single group (1-4 for the choice, Q/W/E for strength) works anywhere.
      const all = form.querySelectorAll('input[data-key="' + key + '"]');
      if (all.length === 1) input = all[0];
    }
    if (!input) return false;
    input.checked = true;
    const groups = keyGroups(form);
    const next = groups[groups.indexOf(input.closest("[data-keygroup]")) + 1];
    if (next) focusGroup(next); else input.focus();
    return true;
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
    if (answer(form, event.key.toLowerCase())) event.preventDefault();
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
