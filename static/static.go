// Package static holds the site's hand-written CSS and small scripts,
// embedded in the binary and served under content-hashed names so browsers
// may cache them forever: a changed file gets a new URL.
// It knows nothing about pages or the course.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// Only the top level: static/editor/ holds the editor's sources and
// node_modules, which the binary does not need.
//
//go:embed *.css *.js
var files embed.FS

// Prefix is where Handler expects to be mounted.
const Prefix = "/static/"

type asset struct {
	body []byte
	// gzipped is body compressed at level 9, or nil when that is not worth
	// it. It is made at the first request that needs it, not at start-up:
	// compressing every file costs about 50 ms, which every lambdalab
	// command (and every test binary) would otherwise pay.
	gzipped     func() []byte
	contentType string
	etag        string
}

// minGzip is the smallest body worth compressing: below it the gzip header
// and a request's round trip cost more than the bytes saved.
const minGzip = 1024

var (
	byHashed = map[string]*asset{} // "app.3fa2c1d9.css" → asset
	byName   = map[string]string{} // "app.css" → "/static/app.3fa2c1d9.css"
)

func init() {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(fmt.Sprintf("read embedded static files: %v", err))
	}
	// The workspace's stylesheets, one per area (ws-*.css, in name order),
	// go out as one file: the lab page needs them all.
	var workspace []byte
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			panic(fmt.Sprintf("read embedded %s: %v", e.Name(), err))
		}
		if strings.HasPrefix(e.Name(), "ws-") && path.Ext(e.Name()) == ".css" {
			workspace = append(append(workspace, "/* "+e.Name()+" */\n"...), b...)
			continue
		}
		add(e.Name(), b)
	}
	add("workspace.css", workspace)
}

func add(name string, b []byte) {
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])[:10]
	ext := path.Ext(name)
	hashed := strings.TrimSuffix(name, ext) + "." + h + ext
	a := &asset{body: b, contentType: mime.TypeByExtension(ext), etag: `"` + h + `"`, gzipped: func() []byte { return nil }}
	if len(b) >= minGzip && compressible(a.contentType) {
		a.gzipped = sync.OnceValue(func() []byte { return compress(b) })
	}
	byHashed[hashed] = a
	byName[name] = Prefix + hashed
}

func (a *asset) gzipETag() string { return strings.TrimSuffix(a.etag, `"`) + `-gz"` }

// matchesETag reports whether an If-None-Match header names etag (weakly,
// as RFC 9110 asks for If-None-Match) or is "*".
func matchesETag(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") ||
		strings.HasPrefix(contentType, "application/javascript") ||
		strings.HasPrefix(contentType, "application/json") ||
		strings.HasPrefix(contentType, "image/svg+xml")
}

// compress gzips b at the best ratio, once per file (asset.gzipped): the
// files never change while the binary runs, so each request only copies
// bytes. It
// returns nil when compressing would not make b smaller.
func compress(b []byte) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		panic(err) // only for an invalid level
	}
	zw.Write(b) // a bytes.Buffer does not fail
	zw.Close()
	if buf.Len() >= len(b) {
		return nil
	}
	return buf.Bytes()
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: listed
// (or "*") without q=0.
func acceptsGzip(header string) bool {
	ok := false
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if coding == "gzip" {
			return q > 0 // an explicit gzip entry decides
		}
		ok = q > 0
	}
	return ok
}

// URL returns the content-hashed URL of an embedded file such as "app.css".
// It panics on an unknown name: that is a programming error caught by any
// test that renders a page.
func URL(name string) string {
	u, ok := byName[name]
	if !ok {
		panic("static: no embedded file " + name)
	}
	return u
}

// Lookup is URL for a file that may not be embedded (yet): ok is false
// when it is not.
func Lookup(name string) (string, bool) {
	u, ok := byName[name]
	return u, ok
}

// Handler serves the embedded files by their hashed names with a one-year
// immutable cache lifetime, gzip-compressed to clients that accept it.
// Mount it at Prefix.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := byHashed[strings.TrimPrefix(r.URL.Path, Prefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		body, etag := a.body, a.etag
		if gz := a.gzipped(); gz != nil {
			// Caches keep the two encodings apart, and so do validators:
			// the compressed bytes are another representation.
			h.Set("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Get("Accept-Encoding")) {
				body, etag = gz, a.gzipETag()
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", etag)
		if matchesETag(r.Header.Get("If-None-Match"), etag) {
			h.Del("Content-Encoding")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method != http.MethodHead {
			w.Write(body)
		}
	})
}
