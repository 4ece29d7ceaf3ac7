// check.js follows a grading job on the lab page's "Check my work" panel.
// The panel marks a job still to finish with data-check-stream (its event
// stream) and data-check-done (the panel to show when it is over). This
// script fills in each check as it finishes and then swaps in the report.
// Without it the panel's Refresh link shows the same thing, a step at a
// time. Loaded deferred; no inline code (CSP).
(function () {
  "use strict";

  // The job being followed: {el, url, done, source, retried, over}.
  var current = null;

  function parse(e) {
    try {
      return JSON.parse(e.data);
    } catch (err) {
      return null;
    }
  }

  function stop() {
    if (current && current.source) {
      current.source.close();
    }
    current = null;
  }

  // scan looks for a job to follow, after the page loads and after each
  // htmx swap: a new panel may hold another job, or none.
  function scan() {
    var el = document.querySelector("[data-check-stream]");
    if (!el) {
      stop();
      return;
    }
    if (current && current.el === el) {
      return;
    }
    stop();
    current = {
      el: el,
      url: el.getAttribute("data-check-stream"),
      done: el.getAttribute("data-check-done"),
      source: null,
      retried: false,
      over: false
    };
    connect(current);
  }

  function setState(c, text) {
    var p = c.el.querySelector("[data-testid=check-job-state]");
    if (p) {
      p.textContent = text;
    }
  }

  // putRow puts a finished check in place of its row: rows are keyed by
  // the check's id, so an event seen twice (after a reconnect the server
  // replays the job's progress) never makes a second row.
  function putRow(c, d) {
    if (!d.id || !d.html) {
      return;
    }
    var list = c.el.querySelector(".check-rows");
    if (!list) {
      return;
    }
    var t = document.createElement("template");
    t.innerHTML = d.html.trim();
    var row = t.content.firstElementChild;
    if (!row) {
      return;
    }
    var same = [];
    var rows = list.querySelectorAll("[data-check-id]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-check-id") === d.id) {
        same.push(rows[i]);
      }
    }
    if (same.length === 0) {
      list.appendChild(row);
      return;
    }
    same[0].replaceWith(row);
    for (var j = 1; j < same.length; j++) {
      same[j].remove();
    }
  }

  // showOutcome replaces the panel with the job's outcome (its report).
  function showOutcome(url) {
    var panel = document.getElementById("panel");
    if (!panel) {
      window.location.assign(url);
      return;
    }
    if (window.htmx && typeof window.htmx.ajax === "function") {
      // The panel as source: the swap inherits #workspace's hx-select-oob,
      // so the tabs and the lab's state badge update with the report.
      window.htmx.ajax("GET", url, { source: panel, target: "#panel", select: "#panel", swap: "outerHTML" });
      return;
    }
    fetch(url, { credentials: "same-origin" })
      .then(function (resp) {
        return resp.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("panel");
        var now = document.getElementById("panel");
        if (!next || !now) {
          window.location.assign(url);
          return;
        }
        now.replaceWith(next);
        scan();
      })
      .catch(function () {
        window.location.assign(url);
      });
  }

  function connect(c) {
    var es = new EventSource(c.url);
    c.source = es;
    es.addEventListener("queued", function (e) {
      var d = parse(e);
      c.el.setAttribute("data-state", "queued");
      setState(c, d && d.position > 0 ? "Queued, position " + d.position + "." : "Queued.");
    });
    es.addEventListener("started", function (e) {
      var d = parse(e);
      c.el.setAttribute("data-state", "running");
      var text = "Grading: each check appears below as it finishes.";
      if (d && d.attempt > 1) {
        text += " (Attempt " + d.attempt + ": the first try hit a problem on our side.)";
      }
      setState(c, text);
    });
    es.addEventListener("check", function (e) {
      var d = parse(e);
      if (d) {
        putRow(c, d);
      }
    });
    es.addEventListener("finished", function (e) {
      var d = parse(e);
      c.over = true;
      es.close();
      if (current === c) {
        showOutcome((d && d.url) || c.done);
      }
    });
    es.onerror = function () {
      // EventSource would retry for ever; a stream that fails twice is
      // left to the Refresh link.
      es.close();
      if (c.over || current !== c) {
        return;
      }
      if (!c.retried) {
        c.retried = true;
        window.setTimeout(function () {
          if (current === c) {
            connect(c);
          }
        }, 1000);
        return;
      }
      setState(c, "Lost the connection to the grading job. Refresh to see how far it has got.");
    };
  }

  document.addEventListener("htmx:afterSwap", scan);
  document.addEventListener("htmx:historyRestore", scan);
  window.addEventListener("pagehide", stop);
  scan();
})();
