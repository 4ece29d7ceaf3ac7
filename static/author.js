// Author mode only: reload this tab whenever the course on disk changes, so
// an author sees each edit (or the load error it caused) without pressing F5.
(function () {
  "use strict";
  if (!window.EventSource) {
    return;
  }
  var events = new EventSource("/_author/events");
  events.addEventListener("reload", function () {
    window.location.reload();
  });
})();
