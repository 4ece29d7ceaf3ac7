package web

// Owned by the buckets helper: replace this stub.

import (
	"net/http"

	"github.com/a-h/templ"
)

func (s *Server) bucketRoutes(mux *http.ServeMux) {}

func (s *Server) bucketsPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	return templ.Raw("<p>Not built yet.</p>"), nil
}
