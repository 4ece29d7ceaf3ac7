package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
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

// get serves path with the given Accept-Encoding (none when empty).
func get(t *testing.T, path, acceptEncoding, ifNoneMatch string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if acceptEncoding != "" {
		r.Header.Set("Accept-Encoding", acceptEncoding)
	}
	if ifNoneMatch != "" {
		r.Header.Set("If-None-Match", ifNoneMatch)
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	return w
}

func TestGzip(t *testing.T) {
	for _, name := range []string{"editor.js", "htmx.min.js", "workspace.js", "app.css"} {
		t.Run(name, func(t *testing.T) {
			u, ok := Lookup(name)
			if !ok {
				t.Fatalf("%s is not embedded", name)
			}
			plain := get(t, u, "", "")
			if plain.Code != 200 || plain.Header().Get("Content-Encoding") != "" {
				t.Fatalf("without Accept-Encoding: %d, Content-Encoding %q", plain.Code, plain.Header().Get("Content-Encoding"))
			}
			if got := plain.Header().Get("Content-Length"); got != strconv.Itoa(plain.Body.Len()) {
				t.Errorf("identity Content-Length %s, body %d bytes", got, plain.Body.Len())
			}
			if v := plain.Header().Get("Vary"); v != "Accept-Encoding" {
				t.Errorf("identity Vary = %q", v)
			}

			zipped := get(t, u, "br, gzip;q=0.8, deflate", "")
			if zipped.Code != 200 || zipped.Header().Get("Content-Encoding") != "gzip" {
				t.Fatalf("with gzip accepted: %d, Content-Encoding %q", zipped.Code, zipped.Header().Get("Content-Encoding"))
			}
			if v := zipped.Header().Get("Vary"); v != "Accept-Encoding" {
				t.Errorf("gzip Vary = %q", v)
			}
			if got := zipped.Header().Get("Content-Length"); got != strconv.Itoa(zipped.Body.Len()) {
				t.Errorf("gzip Content-Length %s, body %d bytes", got, zipped.Body.Len())
			}
			if zipped.Body.Len() >= plain.Body.Len() {
				t.Errorf("gzip body %d bytes, identity %d: not smaller", zipped.Body.Len(), plain.Body.Len())
			}
			zr, err := gzip.NewReader(bytes.NewReader(zipped.Body.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, plain.Body.Bytes()) {
				t.Errorf("gzip body decodes to %d bytes that differ from the %d identity bytes", len(back), plain.Body.Len())
			}

			// Each representation has its own validator, and each still
			// gets its 304.
			ze, pe := zipped.Header().Get("ETag"), plain.Header().Get("ETag")
			if ze == pe || ze == "" || pe == "" {
				t.Errorf("ETags gzip %q identity %q: want two distinct ones", ze, pe)
			}
			if w := get(t, u, "gzip", ze); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
				t.Errorf("conditional gzip GET: %d with %d bytes, want an empty 304", w.Code, w.Body.Len())
			}
			if w := get(t, u, "", pe); w.Code != http.StatusNotModified {
				t.Errorf("conditional identity GET: %d, want 304", w.Code)
			}
			if w := get(t, u, "", `"other", W/`+pe); w.Code != http.StatusNotModified {
				t.Errorf("conditional GET with a list of ETags: %d, want 304", w.Code)
			}
			if w := get(t, u, "gzip", pe); w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" {
				t.Errorf("gzip GET with the identity ETag: %d %q, want the gzip body", w.Code, w.Header().Get("Content-Encoding"))
			}
		})
	}
}

func TestGzipRefused(t *testing.T) {
	u := URL("editor.js")
	for _, ae := range []string{"identity", "gzip;q=0", "br", "*;q=0", "deflate, gzip;q=0, *"} {
		if w := get(t, u, ae, ""); w.Header().Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want identity", ae, w.Header().Get("Content-Encoding"))
		}
	}
	if w := get(t, u, "*", ""); w.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf(`Accept-Encoding "*": Content-Encoding %q, want gzip`, w.Header().Get("Content-Encoding"))
	}
}

func TestSmallFilesNotCompressed(t *testing.T) {
	// author.js is a few hundred bytes: gzip would not pay for itself.
	u := URL("author.js")
	w := get(t, u, "gzip", "")
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "" || w.Header().Get("Vary") != "" {
		t.Errorf("small file: %d, Content-Encoding %q, Vary %q; want it as it is", w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Vary"))
	}
	if !strings.Contains(w.Body.String(), "EventSource") {
		t.Errorf("author.js body: %q", w.Body.String())
	}
}

func TestWorkspaceStylesheet(t *testing.T) {
	// The per-area stylesheets are served as one workspace.css, each
	// marked with its name, and not one by one.
	u := URL("workspace.css")
	w := get(t, u, "", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("GET %s: %d %q", u, w.Code, w.Header().Get("Content-Type"))
	}
	entries, err := files.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "ws-") || !strings.HasSuffix(e.Name(), ".css") {
			continue
		}
		n++
		if !strings.Contains(w.Body.String(), "/* "+e.Name()+" */\n") {
			t.Errorf("workspace.css lacks %s", e.Name())
		}
		if _, ok := Lookup(e.Name()); ok {
			t.Errorf("%s is served on its own too", e.Name())
		}
	}
	if n == 0 && w.Body.Len() != 0 {
		t.Errorf("no ws-*.css files, yet workspace.css has %d bytes", w.Body.Len())
	}
	if z := get(t, u, "gzip", ""); z.Code != 200 {
		t.Errorf("gzip GET %s: %d", u, z.Code)
	}
}

func TestEditorSourcesNotEmbedded(t *testing.T) {
	for _, name := range []string{"editor/package.json", "editor/src/editor.js", "package.json"} {
		if _, err := files.Open(name); err == nil {
			t.Errorf("%s is embedded; only the built files should be", name)
		}
	}
	for _, name := range []string{"editor.js", "htmx.min.js", "htmx-sse.js", "workspace.js"} {
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s is not served", name)
		}
	}
}
