package web

import (
	"fmt"
	"net/http"
	"time"
)

// startEventStream answers r with a server-sent event stream: no write
// deadline (a stream outlives any server timeout by design), headers that
// keep proxies from buffering or caching it, and the client's reconnect
// delay. It returns the controller to flush each event with, or false when
// the client is already gone.
func startEventStream(w http.ResponseWriter, retry time.Duration, hello string) (*http.ResponseController, bool) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: %d\n: %s\n\n", retry.Milliseconds(), hello)
	return rc, rc.Flush() == nil
}
