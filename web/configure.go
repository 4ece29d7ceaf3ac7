package web

// Owned by the configuration helper: replace this stub.

import (
	"net/http"

	"github.com/a-h/templ"
)

func (s *Server) configRoutes(mux *http.ServeMux) {}

func (s *Server) configPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	return templ.Raw("<p>Not built yet.</p>"), nil
}
