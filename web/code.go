package web

// Owned by the code helper: replace this stub.

import (
	"net/http"

	"github.com/a-h/templ"
)

func (s *Server) codeRoutes(mux *http.ServeMux) {}

func (s *Server) codePanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	return templ.Raw("<p>Not built yet.</p>"), nil
}
