package static

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestHashedURLsAndCaching(t *testing.T) {
	u := URL("app.css")
	if !regexp.MustCompile(`^/static/app\.[0-9a-f]{10}\.css$`).MatchString(u) {
		t.Fatalf("URL(app.css) = %q, want a content-hashed name", u)
	}
	h := Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", u, nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/css; charset=utf-8" || w.Body.Len() == 0 {
		t.Fatalf("GET %s: %d %q, %d bytes", u, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
	}
	etag := w.Header().Get("ETag")

	w = httptest.NewRecorder()
	r := httptest.NewRequest("GET", u, nil)
	r.Header.Set("If-None-Match", etag)
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotModified {
		t.Errorf("conditional GET: %d, want 304", w.Code)
	}

	for _, bad := range []string{"/static/app.css", "/static/app.0000000000.css", "/static/../static.go"} {
		w = httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", bad, nil))
		if w.Code != 404 {
			t.Errorf("GET %s: %d, want 404", bad, w.Code)
		}
	}
	if js := URL("author.js"); js == URL("app.css") {
		t.Error("two files share a URL")
	}
}
