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

  // Pasted characters: how much of the rationales (the judgment's own and its criteria's) was
  // pasted rather than typed, sent with the submission in a hidden field and kept in the draft.
  // The count is held to what the rationales hold now, counted as the server counts them
  // (trimmed, in code points; a response marked not ratable keeps none of its notes): text
  // pasted and deleted again does not count, and the count never exceeds the text it is of.
  function codePoints(text) {
    return Array.from(text).length;
  }

  function rationaleChars(form) {
    let total = 0;
    form.querySelectorAll("[data-rationale]").forEach(function (input) {
      const block = input.closest("[data-rating-block]");
      if (!(block && block.querySelector("input[data-not-ratable]:checked"))) {
        total += codePoints(input.value.trim());
      }
    });
    return total;
  }

  function pastedField(form) {
    return form ? form.querySelector("input[data-pasted-chars]") : null;
  }

  function holdPasted(form) {
    const field = pastedField(form);
    if (field) field.value = String(Math.min(parseInt(field.value, 10) || 0, rationaleChars(form)));
  }

  document.addEventListener("paste", function (event) {
    const target = event.target;
    if (!(target instanceof Element) || !target.matches("[data-rationale]")) return;
    const field = pastedField(target.closest("form[data-task-form]"));
    if (!field || !event.clipboardData) return;
    // Counted now, held to the text once it is in (the input event that follows).
    const pasted = codePoints(event.clipboardData.getData("text/plain"));
    field.value = String((parseInt(field.value, 10) || 0) + pasted);
  });

  function pastedTextChanged(event) {
    const form = event.target instanceof Element ? event.target.closest("form[data-task-form]") : null;
    if (form) holdPasted(form);
  }
  document.addEventListener("input", pastedTextChanged);
  document.addEventListener("change", pastedTextChanged);
  // Capturing, so the count is held before htmx reads the form.
  document.addEventListener("submit", pastedTextChanged, true);

  // Status line on the form: draft saved, lease trouble, submission problems.
  function say(form, text, isError) {
    const line = form && form.querySelector("[data-task-status]");
    if (!line) return;
    line.textContent = text;
    line.classList.toggle("error", !!isError);
  }

  function csrf(form) {
    const field = form.querySelector('input[name="csrfmiddlewaretoken"]');
    return field ? field.value : "";
  }

  function post(form, url, body) {
    return fetch(url, {
      method: "POST",
      body: body || new FormData(),
      headers: { "X-CSRFToken": csrf(form), "X-Requested-With": "fetch" },
      credentials: "same-origin",
    });
  }

  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // A lease answer that says the item is gone: stop saving and keep the page as it is.
  function leaseLost(form, response) {
    return response.json().then(function (data) {
      form.dataset.leaseLost = "1";
      say(form, data.error || "This item is no longer yours.", true);
    });
  }

  // Drafts: what the expert enters is saved a moment after they stop typing (and extends the
  // lease), and put back when the form is shown again after a reload, a crash or a new login.
  const DRAFT_DELAY_MS = 1500;
  const draft = { timer: null, form: null, pending: false };

  function saveDraft() {
    const form = draft.form;
    draft.timer = null;
    if (!form || !document.contains(form) || form.dataset.leaseLost) return;
    draft.pending = false;
    holdPasted(form);
    post(form, form.dataset.draftUrl, new FormData(form))
      .then(function (response) {
        if (response.ok) {
          return response.json().then(function (data) { say(form, "Draft saved at " + clock(data.saved_at) + "."); });
        }
        if (response.status === 409) return leaseLost(form, response);
        if (response.status === 400) {
          return response.json().then(function (data) { say(form, data.error, true); });
        }
        draft.pending = true;
        say(form, "Your draft could not be saved just now; it stays on this page and is saved again shortly.", true);
      })
      .catch(function () {
        draft.pending = true;
        say(form, "Offline? Your draft stays on this page and is saved when the connection is back.", true);
      });
  }

  function draftChanged(event) {
    const form = event.target instanceof Element ? event.target.closest("form[data-task-form]") : null;
    if (!form) return;
    draft.form = form;
    window.clearTimeout(draft.timer);
    draft.timer = window.setTimeout(saveDraft, DRAFT_DELAY_MS);
  }
  document.addEventListener("input", draftChanged);
  document.addEventListener("change", draftChanged);

  function restoreDraft() {
    const form = taskForm();
    const source = document.getElementById("task-draft");
    if (!form || !source || form.dataset.restored) return;
    form.dataset.restored = "1";
    const fields = JSON.parse(source.textContent);
    // Hidden fields are the page's own (the key, the rubric version), except those marked
    // data-draft-restores (the pasted count, which belongs to the text the draft puts back).
    Object.keys(fields).forEach(function (name) {
      const values = fields[name];
      form.querySelectorAll('[name="' + CSS.escape(name) + '"]').forEach(function (input) {
        if (input.type === "radio" || input.type === "checkbox") {
          input.checked = values.indexOf(input.value) !== -1;
        } else if (input.type !== "hidden" || "draftRestores" in input.dataset) {
          input.value = values[0] || "";
        }
      });
    });
    say(form, "Your draft from earlier is back.");
  }

  // Heartbeat: while the expert works on the page, the lease is extended well before it ends.
  const heartbeat = { last: Date.now() };
  window.setInterval(function () {
    const form = taskForm();
    if (!form || form.dataset.leaseLost || document.hidden) return;
    const minutes = parseInt(form.dataset.leaseMinutes, 10) || 30;
    const every = Math.min(Math.max(minutes * 15000, 20000), 300000); // a quarter of the lease
    if (Date.now() - heartbeat.last < every || Date.now() - state.lastInput > every) return;
    heartbeat.last = Date.now();
    if (draft.pending) { saveDraft(); return; } // saving a draft extends the lease as well
    post(form, form.dataset.heartbeatUrl)
      .then(function (response) { if (response.status === 409) return leaseLost(form, response); })
      .catch(function () { /* the next beat tries again */ });
  }, 5000);

  // A submission that does not get through keeps the form as it is and says so. Server trouble
  // (503) and lost connections are retried: the idempotency key makes a repeat harmless.
  const RETRIES = [1000, 3000, 8000];
  const retry = { key: null, attempt: 0 };

  function submissionFailed(event, reason) {
    const form = event.detail.elt;
    if (!form || !form.matches || !form.matches("form[data-task-form]")) return;
    const key = form.querySelector('input[name="idempotency_key"]').value;
    if (retry.key !== key) { retry.key = key; retry.attempt = 0; }
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    if ((status === 0 || status === 503) && retry.attempt < RETRIES.length) {
      say(form, reason + " Trying again…", true);
      window.setTimeout(function () { if (document.contains(form)) form.requestSubmit(); }, RETRIES[retry.attempt]);
      retry.attempt += 1;
      return;
    }
    say(form, reason + " Nothing you entered is lost; submit again when ready.", true);
  }
  function seconds(retryAfter) {
    const n = parseInt(retryAfter, 10);
    return n > 1 ? n + " seconds" : n === 1 ? "a second" : "a few seconds";
  }
  document.addEventListener("htmx:sendError", function (event) {
    submissionFailed(event, "Not submitted: the server could not be reached.");
  });
  document.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    const status = xhr.status;
    const reason = status === 503 ? "Not submitted: the service is briefly unavailable."
      : status === 429 ? "Not submitted: too many requests in a short time; wait " + seconds(xhr.getResponseHeader("Retry-After")) + "."
      : status === 403 ? "Not submitted: you are signed out or no longer on this project; sign in again in another tab."
      : "Not submitted: the server had a problem (" + status + ").";
    submissionFailed(event, reason);
  });

  document.addEventListener("DOMContentLoaded", restoreDraft);

  // After a new task arrives, put the focus at its top so the keys act on it at once.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "task") {
      restoreDraft();
      heartbeat.last = Date.now();
      const task = document.getElementById("task");
      if (task) {
        task.setAttribute("tabindex", "-1");
        task.focus({ preventScroll: false });
        window.scrollTo({ top: 0 });
      }
    }
  });
})();
