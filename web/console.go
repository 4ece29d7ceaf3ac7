package web

// Owned by the console helper: replace this stub.

import (
	"net/http"

	"github.com/a-h/templ"
)

func (s *Server) consoleRoutes(mux *http.ServeMux) {}

func (s *Server) testPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	return templ.Raw("<p>Not built yet.</p>"), nil
}

// consoleView is the workspace's persistent console, below the panel.
func (s *Server) consoleView(r *http.Request, lc *labCtx) (templ.Component, error) {
	return templ.Raw(`<div id="console"></div>`), nil
}
