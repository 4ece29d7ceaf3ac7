package web

// Owned by the lab page helper: replace this stub.

import (
	"net/http"
)

func (s *Server) labPageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /labs/{lab}", s.labPage)
}

func (s *Server) labPage(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	st := panelState{Flash: r.URL.Query().Get("note")}
	s.renderLab(w, r, lc, http.StatusOK, st)
}

// renderLab writes the whole lab page with lc.Tab's panel in state st.
func (s *Server) renderLab(w http.ResponseWriter, r *http.Request, lc *labCtx, status int, st panelState) {
	for _, p := range s.panels() {
		if p.ID == lc.Tab {
			c, err := p.render(r, lc, st)
			if err != nil {
				s.serverError(w, r, err)
				return
			}
			s.render(w, r, status, c)
			return
		}
	}
	s.notFoundPage(w, r)
}
