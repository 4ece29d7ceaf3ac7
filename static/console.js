// console.js: the workspace's live console and the Test panel's Invoke.
//
// The console (#console, drawn by the server below every panel) follows
// the server-sent event stream at its data-stream URL:
//   invoke  — a finished invocation: the server-rendered block (html) by
//             request id; it replaces whatever was streamed for that id, so
//             an invoke seen both as it ran and when it ended shows once;
//   output  — lines of an invoke started from a page, as they are printed
//             (token, requestId once START went by, text);
//   busy    — an invoke the machine had no room for (no invocation at all);
//   tune    — a power-tuning run's progress;
//   dropped — this tab fell behind and missed updates.
// Invoke is sent with fetch and X-Console: 1; the answer is small JSON with
// the Test panel's result box (html). Without this script the form posts
// and the page comes back with the result.
//
// Performance: "invoke-click" is marked when an invoke is sent, and
// "report-shown" plus the measure "invoke-to-report" when its REPORT line
// is in the page.
(function () {
  "use strict";

  const consoleEl = document.getElementById("console");
  if (!consoleEl || !window.EventSource) return;
  const log = consoleEl.querySelector("[data-console-log]");
  const status = consoleEl.querySelector("[data-console-status]");
  const follow = consoleEl.querySelector("[data-console-follow]");
  const maxBlocks = parseInt(consoleEl.dataset.maxBlocks, 10) || 200;

  // Blocks by key: a synchronous invoke's request id, an asynchronous
  // try's request id and attempt, or a page's token before its request id
  // is known.
  const byKey = new Map();
  const byToken = new Map();
  let pending = null; // {token, measured}: the latest invoke this tab sent

  function say(text) {
    if (status) status.textContent = text;
  }

  function fromHTML(html) {
    const t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  // lineClass marks a streamed line that looks like one of Lambda's own.
  // It is provisional: the function may print such lines itself, so START
  // counts only once and START, END and REPORT only with the block's
  // request id, and the finished block, which the server marks by position
  // and the invocation's record, replaces these lines.
  function lineClass(line, started, id) {
    if (id && !started && line.startsWith("START RequestId: " + id + " ")) return "start";
    if (id && line === "END RequestId: " + id) return "end";
    if (id && line.startsWith("REPORT RequestId: " + id + "\t")) return "report";
    if (
      line.startsWith("INIT_REPORT ") ||
      line.startsWith("XRAY TraceId: ") ||
      line.startsWith("[lambdalab]") ||
      line.indexOf(" Task timed out after ") >= 0
    )
      return "platform";
    return "";
  }

  function scrollDown() {
    if (follow && follow.checked) log.scrollTop = log.scrollHeight;
  }

  function add(el) {
    const empty = log.querySelector("[data-console-empty]");
    if (empty) empty.remove();
    log.appendChild(el);
    const blocks = log.querySelectorAll(".console-block");
    for (let i = 0; i < blocks.length - maxBlocks; i++) forget(blocks[i]);
    scrollDown();
  }

  function forget(el) {
    for (const [k, v] of byKey) if (v === el) byKey.delete(k);
    for (const [k, v] of byToken) if (v === el) byToken.delete(k);
    el.remove();
  }

  function replace(old, el) {
    for (const [k, v] of byKey) if (v === old) byKey.set(k, el);
    for (const [k, v] of byToken) if (v === old) byToken.set(k, el);
    old.replaceWith(el);
    scrollDown();
  }

  // running is the block of an invoke whose log is still coming.
  function running(fn, text) {
    const el = document.createElement("article");
    el.className = "console-block kind-running";
    el.dataset.kind = "running";
    el.setAttribute("data-testid", "console-block");
    const head = document.createElement("header");
    head.className = "console-block-head";
    const h = document.createElement("span");
    h.className = "console-headline";
    h.textContent = text;
    const f = document.createElement("span");
    f.className = "console-fn";
    f.textContent = fn || "";
    head.append(h, f);
    const lines = document.createElement("div");
    lines.className = "log-lines";
    lines.setAttribute("data-log-lines", "");
    el.append(head, lines);
    el._partial = "";
    return el;
  }

  function reportShown(token) {
    if (!pending || pending.measured || pending.token !== token) return;
    pending.measured = true;
    try {
      performance.mark("report-shown");
      const m = performance.measure("invoke-to-report", "invoke-click", "report-shown");
      if (m && m.duration !== undefined) consoleEl.dataset.lastInvokeMs = m.duration.toFixed(1);
    } catch (e) {
      // A browser without User Timing level 3: nothing to report.
    }
  }

  function tokenOf(el) {
    for (const [k, v] of byToken) if (v === el) return k;
    return "";
  }

  function onInvoke(d) {
    const key = d.async ? d.requestId + "#" + d.attempt : d.requestId;
    const el = fromHTML(d.html);
    if (!el) return;
    el.dataset.done = "1";
    const old = byKey.get(key) || (d.token && byToken.get(d.token));
    const token = d.token || (old && tokenOf(old));
    if (old) replace(old, el);
    else add(el);
    byKey.set(key, el);
    if (token) {
      byToken.set(token, el);
      if (el.querySelector('[data-testid="console-report"]')) reportShown(token);
    }
  }

  function onOutput(d) {
    if (!d.token && !d.requestId) return; // nothing to file it under
    let el = (d.requestId && byKey.get(d.requestId)) || byToken.get(d.token);
    if (el && el.dataset.done) return; // the whole log is in already
    if (!el) {
      el = running(d.function, "Running…");
      add(el);
    }
    if (d.token) byToken.set(d.token, el);
    if (d.requestId) byKey.set(d.requestId, el);
    if (el._partial === undefined) el._partial = "";
    const lines = el.querySelector("[data-log-lines]");
    const parts = (el._partial + d.text).split("\n");
    el._partial = parts.pop();
    let report = false;
    for (const text of parts) {
      const div = document.createElement("div");
      const cls = lineClass(text, el._started, d.requestId);
      if (cls === "start") el._started = true;
      div.className = cls ? "log-line " + cls : "log-line";
      div.textContent = text;
      if (cls === "report") {
        div.setAttribute("data-testid", "console-report");
        report = true;
      }
      lines.appendChild(div);
    }
    scrollDown();
    if (report) reportShown(d.token);
  }

  function onBusy(d) {
    const el = fromHTML(d.html);
    if (!el) return;
    el.dataset.done = "1";
    const old = d.token && byToken.get(d.token);
    if (old) replace(old, el);
    else add(el);
  }

  function onTune(d) {
    let el = log.lastElementChild;
    if (!el || el.dataset.tuning !== d.function) {
      el = running(d.function, "Trying memory sizes");
      el.className = "console-block kind-tuning";
      el.dataset.kind = "tuning";
      el.dataset.tuning = d.function;
      el.dataset.done = "1";
      add(el);
    }
    const div = document.createElement("div");
    div.className = "log-line";
    div.textContent = d.text;
    el.querySelector("[data-log-lines]").appendChild(div);
    scrollDown();
  }

  function listen(name, fn) {
    source.addEventListener(name, function (e) {
      let d;
      try {
        d = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      fn(d);
    });
  }

  const source = new EventSource(consoleEl.dataset.stream);
  let opened = false;
  source.addEventListener("open", function () {
    say(opened ? "Live again. Invocations while it was away are in the Monitor tab." : "Live: invocations show here as they happen.");
    opened = true;
    consoleEl.dataset.live = "1";
  });
  source.addEventListener("error", function () {
    delete consoleEl.dataset.live;
    say("Connection lost; reconnecting…");
  });
  listen("invoke", onInvoke);
  listen("output", onOutput);
  listen("busy", onBusy);
  listen("tune", onTune);
  listen("dropped", function (d) {
    say("This tab fell behind and missed " + d.count + " update(s); the Monitor tab has every invocation.");
  });

  const controls = consoleEl.querySelector("[data-console-controls]");
  if (controls) controls.hidden = false;
  const clear = consoleEl.querySelector("[data-console-clear]");
  if (clear)
    clear.addEventListener("click", function () {
      log.querySelectorAll(".console-block").forEach(function (b) {
        b.remove();
      });
      byKey.clear();
      byToken.clear();
    });
  if (follow) follow.addEventListener("change", scrollDown);

  // ---- Invoke -----------------------------------------------------------

  function newToken() {
    return "t" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }

  function showResult(html) {
    const slot = document.getElementById("test-result");
    const el = fromHTML(html);
    if (slot && el) slot.replaceWith(el);
  }

  function showProblem(text) {
    const slot = document.getElementById("test-result");
    if (!slot) return;
    const p = document.createElement("p");
    p.className = "error-box";
    p.setAttribute("role", "alert");
    p.textContent = text;
    const box = document.createElement("div");
    box.id = "test-result";
    box.appendChild(p);
    slot.replaceWith(box);
  }

  // settle matches the invoke's answer with what the stream showed.
  function settle(d, token) {
    const mine = byToken.get(token);
    const done = d.requestId && byKey.get(d.requestId);
    if (done && mine && done !== mine) {
      forget(mine); // the finished block came first
      byToken.set(token, done);
    } else if (mine && d.requestId && !done) {
      byKey.set(d.requestId, mine); // the finished block will replace it
    } else if (mine && !mine.dataset.done && !d.requestId) {
      forget(mine); // nothing ran under this token (refused, throttled)
    }
    const el = byToken.get(token);
    if (el && el.dataset.done && el.querySelector('[data-testid="console-report"]')) reportShown(token);
  }

  function invoke(form, button) {
    const token = newToken();
    const field = form.querySelector("[data-console-token]");
    if (field) field.value = token;
    const body = new URLSearchParams(new FormData(form));
    body.set("token", token);
    pending = { token: token, measured: false };
    performance.mark("invoke-click");
    const fn = (form.querySelector('[name="fn"]') || {}).value;
    const async = body.get("type") === "Event";
    if (!async) {
      const el = running(fn, "Invoking…");
      add(el);
      byToken.set(token, el);
    }
    const result = document.getElementById("test-result");
    if (result) result.setAttribute("aria-busy", "true");
    if (button) button.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Console": "1" },
    })
      .then(function (resp) {
        const type = resp.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === 0) {
          return resp.json().then(function (d) {
            showResult(d.html);
            settle(d, token);
          });
        }
        // A page instead of JSON: over the invoke budget (429), signed out.
        return resp.text().then(function (text) {
          const doc = new DOMParser().parseFromString(text, "text/html");
          const p = doc.querySelector("main p");
          showProblem((p && p.textContent) || "The invoke was refused (" + resp.status + ").");
          settle({}, token);
        });
      })
      .catch(function () {
        showProblem("The invoke could not be sent; check the connection and try again.");
        settle({}, token);
      })
      .finally(function () {
        if (button) button.removeAttribute("aria-busy");
      });
  }

  // In the capture phase, before htmx's boosted form handler: Invoke goes
  // by fetch; the form's other buttons (save, try memory sizes) are left
  // to htmx and the browser.
  document.addEventListener(
    "submit",
    function (evt) {
      const form = evt.target;
      if (!form.matches || !form.matches("form[data-console-invoke]")) return;
      const button = evt.submitter;
      if (button && !button.hasAttribute("data-invoke")) return;
      if (!window.fetch || !window.URLSearchParams) return;
      evt.preventDefault();
      evt.stopPropagation();
      invoke(form, button);
    },
    true,
  );
})();
