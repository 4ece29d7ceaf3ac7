// The lab workspace's enhancements. The page works without this file: every
// tab is a link, every action a form. With it: htmx swaps only #panel, code
// textareas become editors whose text is saved as the learner types, the
// instructions/workspace split can be resized, and a few shortcuts work.
//
// Loaded deferred after htmx.min.js and editor.js; no inline code anywhere
// (the page's CSP allows only our own scripts). Everything here is set up
// again on each htmx swap, and setting it up twice is harmless.
(function () {
  "use strict";

  const htmx = window.htmx;
  const SAVE_DELAY = 800; // ms of quiet after the last keystroke
  const KEEPALIVE_MAX = 60000; // browsers cap keepalive bodies at 64 KiB in all
  // The width at which ws-lab.css puts the columns side by side.
  const WIDE = window.matchMedia("(min-width: 62.5rem)");

  // ---- htmx -------------------------------------------------------------

  if (htmx) {
    // Our CSP has no 'unsafe-eval' and no inline styles.
    htmx.config.allowEval = false;
    htmx.config.includeIndicatorStyles = false;
    // Our refusal pages (422, 409, 429, 404) say why, in place of the
    // panel: swap them like successes. A 5xx page is not ours to show in a
    // panel; the banner below says what happened and the panel stays.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "4..", swap: true },
      { code: "5..", swap: false, error: true },
      { code: "...", swap: false },
    ];
    // Back and Forward load the page afresh instead of restoring a snapshot
    // from sessionStorage: a snapshot holds the editor's dead markup and the
    // code as it was, not as it was saved since.
    htmx.config.historyCacheSize = 0;
    htmx.config.refreshOnHistoryMiss = true;
  }

  // A refused form (4xx to a POST) is swapped in, but its URL is the form's
  // action: pushed into the address bar, a reload would GET it. Keep the
  // URL of the page the learner was on instead.
  document.addEventListener("htmx:beforeHistoryUpdate", function (evt) {
    const d = evt.detail;
    if (d.xhr && d.xhr.status >= 400 && d.requestConfig && d.requestConfig.verb !== "get") {
      d.history.type = "replace";
      d.history.path = location.pathname + location.search + location.hash;
    }
  });

  function showError(message) {
    let banner = document.querySelector("[data-workspace-error]");
    if (!banner) {
      banner = document.createElement("div");
      banner.className = "error-box";
      banner.setAttribute("role", "alert");
      banner.dataset.workspaceError = "";
      banner.dataset.testid = "workspace-error";
      const text = document.createElement("p");
      const close = document.createElement("button");
      close.type = "button";
      close.className = "link";
      close.textContent = "Dismiss";
      close.addEventListener("click", function () {
        banner.remove();
      });
      banner.append(text, close);
      const panel = document.getElementById("panel");
      if (panel && panel.parentNode) {
        panel.parentNode.insertBefore(banner, panel);
      } else {
        (document.querySelector("main") || document.body).prepend(banner);
      }
    }
    banner.querySelector("p").textContent = message;
  }

  function clearError() {
    const banner = document.querySelector("[data-workspace-error]");
    if (banner) banner.remove();
  }

  // The message of one of our error pages (ui.ErrorPage): its heading and
  // first paragraph, e.g. "Slow down: You have made the most deploys …".
  function pageMessage(doc) {
    const box = doc.querySelector("[data-testid=error-page]");
    if (!box) return "";
    const h = box.querySelector("h1");
    const p = box.querySelector("p");
    const heading = h ? h.textContent.trim() : "";
    const text = p ? p.textContent.trim() : "";
    // The 500 page's paragraph repeats its heading ("Something went wrong (ref …)").
    return !heading || text.startsWith(heading) ? text : text ? heading + ": " + text : heading;
  }

  function parse(html) {
    return new DOMParser().parseFromString(typeof html === "string" ? html : "", "text/html");
  }

  document.addEventListener("htmx:responseError", function (evt) {
    const xhr = evt.detail.xhr;
    if (!xhr || xhr.status < 500) return;
    showError(
      pageMessage(parse(xhr.response)) ||
        "The server failed to do that (" + xhr.status + " " + xhr.statusText + "). " +
          "Nothing on this page changed; try again, or reload the page if it keeps happening.",
    );
  });
  document.addEventListener("htmx:sendError", function () {
    showError("Could not reach the server. Check your connection and try again.");
  });

  // A response without the element the swap selects (the site's own 404 or
  // 429 page, or the sign-in page after a session ended) would swap #panel
  // for nothing, and every later request would find no target. Go to a
  // page the server sent us to; show an error page's message in the banner.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    const d = evt.detail;
    if (!d.shouldSwap) return;
    const elt = d.requestConfig && d.requestConfig.elt;
    const from = elt && elt.closest && elt.closest("[hx-select]");
    const sel = d.selectOverride || d.select || (from && from.getAttribute("hx-select"));
    if (!sel || sel === "unset") return;
    const doc = parse(d.serverResponse);
    if (doc.querySelector(sel)) return;
    d.shouldSwap = false;
    const status = d.xhr.status;
    const redirected = d.pathInfo && d.pathInfo.responsePath && d.pathInfo.responsePath !== d.pathInfo.finalRequestPath;
    if (status < 400 && (redirected || d.requestConfig.verb === "get")) {
      location.assign(d.xhr.responseURL || d.pathInfo.responsePath);
      return;
    }
    showError(pageMessage(doc) || "The server answered " + status + " " + d.xhr.statusText + ".");
  });
  document.addEventListener("htmx:afterSwap", clearError);

  // ---- confirmations ----------------------------------------------------

  // data-confirm="question" on a form, or on the button that submits it.
  // Capturing at the document runs before htmx's own listener on a boosted
  // form, so one check covers boosted and plain forms alike.
  document.addEventListener(
    "submit",
    function (evt) {
      const form = evt.target;
      const submitter = evt.submitter;
      const question =
        (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) {
        evt.preventDefault();
        evt.stopImmediatePropagation();
      }
    },
    true,
  );
  // A link with data-confirm, boosted or not.
  document.addEventListener(
    "click",
    function (evt) {
      const link = evt.target.closest && evt.target.closest("a[data-confirm]");
      if (link && !window.confirm(link.getAttribute("data-confirm"))) {
        evt.preventDefault();
        evt.stopImmediatePropagation();
      }
    },
    true,
  );

  // ---- autosave ---------------------------------------------------------

  // One saver per (url, fn, path). It outlives its textarea: when a swap
  // takes the textarea away before its text was saved, the saver keeps
  // trying, and a new textarea for the same file gets the unsaved text back.
  const savers = new Map();

  // statusFor finds the nearest [data-autosave-status]; without one in the
  // markup, a line after the textarea (and so after its editor) says it,
  // for a failed save must never go unseen.
  function statusFor(el) {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const s = p.querySelector("[data-autosave-status]");
      if (s) return s;
    }
    const made = document.createElement("span");
    made.className = "hint autosave-status";
    made.dataset.autosaveStatus = "";
    made.dataset.testid = "autosave-status";
    el.after(made);
    return made;
  }

  function hhmmss(d) {
    return d.toTimeString().slice(0, 8);
  }

  function Saver(ta) {
    this.url = ta.dataset.autosaveUrl;
    this.fn = ta.dataset.fn || "";
    this.path = ta.dataset.path || "";
    this.saved = ta.value; // what the server has, as far as we know
    this.timer = 0;
    this.inflight = null; // the promise of the save being sent
    this.failures = 0;
    this.reason = "";
    this.attach(ta);
  }

  Saver.prototype.attach = function (ta) {
    this.ta = ta;
    this.status = statusFor(ta);
    if (this.status && !this.status.hasAttribute("role")) this.status.setAttribute("role", "status");
  };

  Saver.prototype.value = function () {
    return this.ta.value;
  };

  Saver.prototype.unsaved = function () {
    return this.value() !== this.saved;
  };

  Saver.prototype.show = function (text, state) {
    if (!this.status) return;
    this.status.textContent = text;
    this.status.dataset.state = state; // "saving", "saved", "failed": for styles and tests
  };

  Saver.prototype.changed = function () {
    clearTimeout(this.timer);
    if (!this.failures) {
      this.timer = setTimeout(() => this.save(), SAVE_DELAY);
    }
    // While failing, the retry timer is already set and sends the newest text.
    armUnloadWarning();
  };

  // save sends the current text unless the server has it already. It
  // resolves to true when the server has the text that was current when
  // save was called, false when that failed.
  Saver.prototype.save = function (keepalive) {
    clearTimeout(this.timer);
    if (this.inflight) {
      // One save at a time, so they cannot land out of order.
      return this.inflight.then(() => this.save(keepalive));
    }
    const body = this.value();
    if (body === this.saved) {
      return Promise.resolve(true);
    }
    this.show("Saving…", "saving");
    const form = new URLSearchParams({ fn: this.fn, path: this.path, body: body });
    const init = {
      method: "POST",
      body: form,
      headers: { "X-Autosave": "1" },
      credentials: "same-origin",
    };
    if (keepalive && form.toString().length < KEEPALIVE_MAX) init.keepalive = true;
    this.inflight = fetch(this.url, init)
      .then((resp) => {
        if (resp.ok) return null;
        // A 429 says when to come back.
        this.retryAfter = 1000 * (parseInt(resp.headers.get("Retry-After"), 10) || 0);
        return resp.text().then((text) => reasonOf(resp, text));
      })
      .catch(() => "no connection to the server")
      .then((reason) => {
        this.inflight = null;
        if (reason === null) {
          this.saved = body;
          this.failures = 0;
          this.show("Saved " + hhmmss(new Date()), "saved");
          if (this.unsaved()) this.changed(); // typed while it was sent
          armUnloadWarning();
          return true;
        }
        this.failures++;
        this.reason = reason;
        this.show("Not saved: " + reason + " — retrying", "failed");
        // 2 s, 4 s, 8 s … at most half a minute between tries; Ctrl+S or
        // the network coming back tries at once.
        const wait = Math.max(this.retryAfter || 0, Math.min(30000, 1000 * Math.pow(2, this.failures)));
        this.retryAfter = 0;
        this.timer = setTimeout(() => this.save(), wait);
        armUnloadWarning();
        return false;
      });
    return this.inflight;
  };

  // reasonOf is the server's own short explanation when it gave one (a
  // plain-text body of one line, or one of our error pages), else the
  // HTTP status.
  function reasonOf(resp, text) {
    const type = resp.headers.get("Content-Type") || "";
    const line = text.trim();
    if (type.startsWith("text/plain") && line && line.length <= 300 && line.indexOf("\n") < 0) {
      return line;
    }
    if (type.startsWith("text/html")) {
      const said = pageMessage(parse(text));
      if (said) return said;
    }
    if (resp.status === 401 || resp.status === 403) return "you are signed out (sign in again in another tab)";
    if (resp.status === 413) return "the file is too large";
    return (resp.status + " " + resp.statusText).trim();
  }

  function pendingSavers() {
    return Array.from(savers.values()).filter((s) => s.unsaved() || s.inflight);
  }

  function flushAll(keepalive) {
    return Promise.all(pendingSavers().map((s) => s.save(keepalive))).then((oks) => oks.every(Boolean));
  }

  function unsavedAfterFailure() {
    return Array.from(savers.values()).some((s) => s.failures > 0 && s.unsaved());
  }

  // The browser asks before leaving only while a save has failed and text
  // is still unsaved; otherwise leaving just sends what is left.
  let warning = false;
  function armUnloadWarning() {
    warning = unsavedAfterFailure();
  }
  window.addEventListener("beforeunload", function (evt) {
    // beforeunload comes before the next page is requested, so the last
    // keystrokes are on their way before that page reads the draft.
    flushAll(true);
    if (warning) {
      evt.preventDefault();
      evt.returnValue = "";
    }
  });
  window.addEventListener("pagehide", function () {
    flushAll(true);
  });
  window.addEventListener("online", function () {
    flushAll(false);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flushAll(true);
  });

  // Back/Forward reload the page (see historyCacheSize above); with text
  // still being saved, wait for it first so the reloaded page shows it.
  // Registered before htmx's own handler, which is set at DOMContentLoaded.
  window.addEventListener("popstate", function (evt) {
    if (!evt.state || !evt.state.htmx || !pendingSavers().length) return;
    evt.stopImmediatePropagation();
    flushAll(false).then(function () {
      location.reload();
    });
  });

  // Before any htmx request, the text is saved: a request that swaps the
  // editor away waits for it, and asks before going on without it.
  document.addEventListener("htmx:confirm", function (evt) {
    const d = evt.detail;
    // A panel that refreshes itself (data-live, polled with hx-trigger
    // "every Ns") does not poll while its tab is hidden: nobody is looking,
    // and a class of open laptops would keep the server busy for nothing.
    if (d.elt && d.elt.hasAttribute("data-live") && document.visibilityState === "hidden") {
      evt.preventDefault();
      return;
    }
    let ask = null;
    // A button or other element that htmx sends on its own (not a form,
    // whose data-confirm the submit listener asked about, nor a link).
    if (d.triggeringEvent && d.triggeringEvent.type !== "submit" && d.elt.tagName !== "A") {
      ask = d.elt.getAttribute("data-confirm");
    }
    if (ask && !window.confirm(ask)) {
      evt.preventDefault();
      return;
    }
    const pending = pendingSavers();
    if (!pending.length) return;
    const target = d.target;
    const swapsEditor = pending.some((s) => target && s.ta.isConnected && target.contains(s.ta));
    if (!swapsEditor) {
      flushAll(false);
      return;
    }
    evt.preventDefault();
    flushAll(false).then(function (ok) {
      const why = pending.map((s) => s.reason).filter(Boolean)[0] || "the server did not answer";
      if (ok || window.confirm("Your latest changes are not saved yet (" + why + "). Go on anyway?")) {
        d.issueRequest(true);
      }
    });
  });

  function setUpAutosave(ta) {
    const key = ta.dataset.autosaveUrl + "\n" + (ta.dataset.fn || "") + "\n" + (ta.dataset.path || "");
    let s = savers.get(key);
    if (s && s.ta === ta) return s;
    if (s) {
      // A new textarea for a file we were saving. If the server still has
      // what we last saved, any newer text we hold is the learner's: put it
      // back. If the server has something else (a reset, say), it wins.
      const newer = s.unsaved() && ta.value === s.saved;
      const text = s.value();
      s.attach(ta);
      if (newer) {
        ta.value = text;
        s.save();
      } else {
        s.saved = ta.value;
        s.failures = 0;
        clearTimeout(s.timer);
      }
    } else {
      s = new Saver(ta);
      savers.set(key, s);
    }
    if (!ta.dataset.editor) {
      ta.addEventListener("input", () => s.changed());
    }
    armUnloadWarning();
    return s;
  }

  function saverOf(ta) {
    for (const s of savers.values()) if (s.ta === ta) return s;
    return null;
  }

  // ---- editors ----------------------------------------------------------

  const editors = new Map(); // textarea → editor handle

  function nonce() {
    const m = document.querySelector('meta[name="csp-nonce"]');
    return m ? m.content : "";
  }

  function mountEditor(ta) {
    if (editors.has(ta) || !window.LambdalabEditor) return;
    const handle = window.LambdalabEditor.mount(ta, {
      language: ta.dataset.language,
      nonce: nonce(),
      onChange: function () {
        const s = saverOf(ta);
        if (s) s.changed();
      },
    });
    editors.set(ta, handle);
  }

  function forgetDetached() {
    for (const [ta, handle] of editors) {
      if (!ta.isConnected) {
        handle.destroy();
        editors.delete(ta);
      }
    }
  }

  // ---- the split --------------------------------------------------------

  const SPLIT_KEY = "lambdalab.split";
  const SPLIT_MIN = 20;
  const SPLIT_MAX = 80;

  function storedSplit() {
    try {
      const v = parseFloat(localStorage.getItem(SPLIT_KEY));
      return v >= SPLIT_MIN && v <= SPLIT_MAX ? v : null;
    } catch (e) {
      return null; // storage refused (private mode, policy)
    }
  }

  function setUpSplit(handle) {
    if (handle.dataset.splitReady) return;
    handle.dataset.splitReady = "1";
    const layout = handle.closest(".lab-layout");
    if (!layout) return;
    const instructions = layout.querySelector("#instructions");
    if (!handle.hasAttribute("role")) handle.setAttribute("role", "separator");
    handle.setAttribute("aria-orientation", "vertical");
    handle.setAttribute("aria-valuemin", String(SPLIT_MIN));
    handle.setAttribute("aria-valuemax", String(SPLIT_MAX));
    if (instructions) handle.setAttribute("aria-controls", "instructions");
    if (!handle.hasAttribute("aria-label")) handle.setAttribute("aria-label", "Resize the instructions");

    let percent = storedSplit();

    // apply puts the split on the layout as --lab-split (the share of the
    // width the instructions take); narrow screens get no split at all.
    function apply() {
      if (!WIDE.matches) {
        layout.style.removeProperty("--lab-split");
        handle.removeAttribute("tabindex");
        handle.removeAttribute("aria-valuenow");
        return;
      }
      handle.tabIndex = 0;
      if (percent === null) {
        // No choice made yet: report what the stylesheet drew.
        const l = layout.getBoundingClientRect();
        const i = instructions ? instructions.getBoundingClientRect() : null;
        const now = i && l.width ? (100 * i.width) / l.width : 50;
        handle.setAttribute("aria-valuenow", String(Math.round(now)));
        return;
      }
      layout.style.setProperty("--lab-split", percent.toFixed(1) + "%");
      handle.setAttribute("aria-valuenow", String(Math.round(percent)));
    }

    function set(p, save) {
      percent = Math.min(SPLIT_MAX, Math.max(SPLIT_MIN, p));
      apply();
      if (save) {
        try {
          localStorage.setItem(SPLIT_KEY, percent.toFixed(1));
        } catch (e) {
          // Not kept across pages, but it works on this one.
        }
      }
    }

    function current() {
      return percent === null ? parseFloat(handle.getAttribute("aria-valuenow")) || 50 : percent;
    }

    handle.addEventListener("pointerdown", function (evt) {
      if (!WIDE.matches || evt.button !== 0) return;
      evt.preventDefault();
      handle.setPointerCapture(evt.pointerId);
      layout.classList.add("is-resizing");
      const box = layout.getBoundingClientRect();
      const move = function (e) {
        set((100 * (e.clientX - box.left)) / box.width, false);
      };
      const up = function () {
        handle.removeEventListener("pointermove", move);
        handle.removeEventListener("pointerup", up);
        handle.removeEventListener("pointercancel", up);
        layout.classList.remove("is-resizing");
        if (percent !== null) set(percent, true);
      };
      handle.addEventListener("pointermove", move);
      handle.addEventListener("pointerup", up);
      handle.addEventListener("pointercancel", up);
    });

    handle.addEventListener("keydown", function (evt) {
      if (!WIDE.matches) return;
      const step = evt.shiftKey ? 10 : 2;
      const keys = {
        ArrowLeft: current() - step,
        ArrowRight: current() + step,
        PageUp: current() - 10,
        PageDown: current() + 10,
        Home: SPLIT_MIN,
        End: SPLIT_MAX,
      };
      if (!(evt.key in keys)) return;
      evt.preventDefault();
      set(keys[evt.key], true);
    });

    WIDE.addEventListener("change", apply);
    apply();
  }

  // ---- keyboard ---------------------------------------------------------

  function isMod(evt) {
    return (evt.ctrlKey || evt.metaKey) && !evt.altKey;
  }

  // Capturing, so these run before the editor's own keymap (where
  // Ctrl+Enter would insert a line).
  document.addEventListener(
    "keydown",
    function (evt) {
      if (!isMod(evt)) return;
      const target = evt.target;
      if (evt.key === "s" || evt.key === "S") {
        let mine = null;
        for (const [ta, handle] of editors) {
          if (handle.view && handle.view.dom.contains(target)) mine = saverOf(ta);
        }
        if (!mine && target.tagName === "TEXTAREA") mine = saverOf(target);
        const inWorkspace = target.closest && target.closest("#workspace");
        if (!mine && !(inWorkspace && savers.size)) return; // the browser's own Save
        evt.preventDefault();
        if (mine) mine.save();
        else flushAll(false);
        return;
      }
      if (evt.key === "Enter") {
        const form =
          (target.closest && target.closest("form[data-submit-shortcut]")) ||
          (target.form && target.form.matches("[data-submit-shortcut]") ? target.form : null);
        if (!form) return;
        evt.preventDefault();
        evt.stopPropagation();
        form.requestSubmit();
      }
    },
    true,
  );

  // ---- scanning ---------------------------------------------------------

  function scan(root) {
    if (!root || !root.querySelectorAll) return;
    const all = function (sel) {
      const found = Array.from(root.querySelectorAll(sel));
      if (root.matches && root.matches(sel)) found.unshift(root);
      return found;
    };
    all("textarea[data-autosave-url]").forEach(setUpAutosave);
    all("textarea[data-editor]").forEach(mountEditor);
    all("[data-split]").forEach(setUpSplit);
  }

  document.addEventListener("htmx:load", function (evt) {
    scan(evt.detail.elt);
  });
  document.addEventListener("htmx:afterSwap", function () {
    forgetDetached();
    scan(document.getElementById("panel") || document.body);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      scan(document.body);
    });
  } else {
    scan(document.body);
  }
})();
