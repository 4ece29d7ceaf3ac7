// Package static holds the site's hand-written CSS and small scripts,
// embedded in the binary and served under content-hashed names so browsers
// may cache them forever: a changed file gets a new URL.
// It knows nothing about pages or the course.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed *.css *.js
var files embed.FS

// Prefix is where Handler expects to be mounted.
const Prefix = "/static/"

type asset struct {
	body        []byte
	contentType string
	etag        string
}

var (
	byHashed = map[string]asset{}  // "app.3fa2c1d9.css" → asset
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
	byHashed[hashed] = asset{body: b, contentType: mime.TypeByExtension(ext), etag: `"` + h + `"`}
	byName[name] = Prefix + hashed
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
// immutable cache lifetime. Mount it at Prefix.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := byHashed[strings.TrimPrefix(r.URL.Path, Prefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("ETag", a.etag)
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(a.body)
	})
}
