package web

// Owned by the versions helper: replace this stub.

import (
	"net/http"

	"github.com/a-h/templ"
)

func (s *Server) versionRoutes(mux *http.ServeMux) {}

func (s *Server) versionsPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	return templ.Raw("<p>Not built yet.</p>"), nil
}
