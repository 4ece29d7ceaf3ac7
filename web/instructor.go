package web

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"

	"lambdalab/content"
	"lambdalab/web/ui"
)

// requireInstructor lets instructors through; anyone else signed in gets a
// 403 page and a reader who is not signed in is sent to sign in.
func (s *Server) requireInstructor(w http.ResponseWriter, r *http.Request) bool {
	u := s.requireUser(w, r, r.URL.Path)
	if u == nil {
		return false
	}
	if !s.site(u).Instructor() {
		s.forbidden(w, r)
		return false
	}
	return true
}

func (s *Server) classTable(w http.ResponseWriter, r *http.Request) (*content.Course, ui.ClassTable, bool) {
	if !s.requireInstructor(w, r) {
		return nil, ui.ClassTable{}, false
	}
	c, ok := s.course(w, r)
	if !ok {
		return nil, ui.ClassTable{}, false
	}
	class, err := s.db.ClassProgress(r.Context())
	if err != nil {
		s.serverError(w, r, fmt.Errorf("class progress: %w", err))
		return nil, ui.ClassTable{}, false
	}
	return c, classTable(c, class), true
}

func (s *Server) instructor(w http.ResponseWriter, r *http.Request) {
	if v, ok := s.instructorView(w, r, ""); ok {
		s.render(w, r, http.StatusOK, ui.InstructorPage(s.siteFor(r), v))
	}
}

// progressCSV is the class table as CSV: email, role, account id, then one
// column per lesson (completion time, RFC 3339) and three per quiz: the
// last and the best "score/total" and the number of attempts.
func (s *Server) progressCSV(w http.ResponseWriter, r *http.Request) {
	_, t, ok := s.classTable(w, r)
	if !ok {
		return
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	header := []string{"email", "role", "account_id"}
	for _, c := range t.Columns {
		header = append(header, c.Key)
	}
	cw.Write(header)
	for _, row := range t.Rows {
		rec := []string{spreadsheetSafe(row.Email), row.Role, row.AccountID}
		for _, c := range row.Cells {
			rec = append(rec, c.Raw)
		}
		cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.serverError(w, r, fmt.Errorf("write progress csv: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="progress.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// spreadsheetSafe stops a value that a student chose (their email) from
// being read as a formula when the CSV is opened in a spreadsheet.
func spreadsheetSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
