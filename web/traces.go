package web

// Owned by the traces helper: replace this stub.

import (
	"net/http"

	"github.com/a-h/templ"
)

func (s *Server) traceRoutes(mux *http.ServeMux) {}

func (s *Server) tracesPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	return templ.Raw("<p>Not built yet.</p>"), nil
}
