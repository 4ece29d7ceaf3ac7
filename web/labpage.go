package web

// The lab page: the lab's instructions beside the workspace, whose frame
// (function picker, tabs, the chosen panel, the console) is drawn here for
// every panel. Also the learner's state in each lab, for the course map.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"
	"sync"

	"github.com/a-h/templ"

	"lambdalab/content"
	"lambdalab/labs"
	"lambdalab/static"
	"lambdalab/store"
	"lambdalab/web/ui"
)

func (s *Server) labPageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /labs/{lab}", s.labPage)
}

func (s *Server) labPage(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return
	}
	// Opening a lab puts it "in progress" on the course map. A failure
	// costs only that mark, so it is logged, not shown.
	if err := s.db.RecordLabVisit(r.Context(), lc.User.ID, lc.Lab.ID); err != nil {
		s.logger.WarnContext(r.Context(), "record lab visit", "user_id", lc.User.ID, "lab", lc.Lab.ID, "err", err)
	}
	st := panelState{Flash: r.URL.Query().Get("note")}
	s.renderLab(w, r, lc, http.StatusOK, st)
}

// labScripts are the workspace's scripts in the order they must run:
// htmx before its SSE extension, the editor bundle before workspace.js
// mounts it. A script not embedded (yet) is left out.
var labScripts = []string{"htmx.min.js", "htmx-sse.js", "editor.js", "workspace.js", "console.js", "check.js"}

// renderLab writes the whole lab page with lc.Tab's panel in state st.
// A panel that finds an id of the request not the learner's own
// (store.ErrNotFound) makes the page a 404.
func (s *Server) renderLab(w http.ResponseWriter, r *http.Request, lc *labCtx, status int, st panelState) {
	var chosen *panel
	all := s.panels()
	for i := range all {
		if all[i].ID == lc.Tab {
			chosen = &all[i]
		}
	}
	if chosen == nil {
		s.notFoundPage(w, r)
		return
	}
	body, err := chosen.render(r, lc, st)
	if errors.Is(err, store.ErrNotFound) {
		s.notFoundPage(w, r)
		return
	}
	if err != nil {
		s.serverError(w, r, fmt.Errorf("lab %s panel %s: %w", lc.Lab.ID, lc.Tab, err))
		return
	}
	// A panel may show the flash or the refusal beside its own form; the
	// frame shows it at the panel's top only when the panel did not, so it
	// is never said twice.
	var buf bytes.Buffer
	if err := body.Render(r.Context(), &buf); err != nil {
		s.serverError(w, r, fmt.Errorf("lab %s panel %s: render: %w", lc.Lab.ID, lc.Tab, err))
		return
	}
	shown := buf.String()
	flash, refusal := st.Flash, st.Err
	if flash != "" && strings.Contains(shown, html.EscapeString(flash)) {
		flash = ""
	}
	if refusal != "" && strings.Contains(shown, html.EscapeString(refusal)) {
		refusal = ""
	}
	console, err := s.consoleView(r, lc)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("lab %s console: %w", lc.Lab.ID, err))
		return
	}
	state, err := s.labState(r.Context(), lc.User, lc.Lab.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	doc := labDocOf(lc.Lab)
	v := ui.LabPageView{
		ID:        lc.Lab.ID,
		Title:     lc.Lab.Title,
		Minutes:   lc.Lab.Minutes,
		State:     state,
		IntroHTML: doc.intro,
		Tasks:     doc.tasks,
		Flash:     flash,
		Err:       refusal,
		Panel:     templ.Raw(shown),
		Console:   console,
		CSS:       static.URL("workspace.css"),
	}
	if cs := s.state.Load(); cs != nil && cs.course != nil {
		if l, ok := cs.course.Lesson(lessonSlug(lc.Lab.Lesson)); ok {
			v.LessonTitle, v.LessonURL = l.Title, ui.LessonURL(l.Slug)
		}
	}
	if len(lc.Lab.Functions) > 1 {
		for _, f := range lc.Lab.Functions {
			v.Functions = append(v.Functions, ui.LabChoice{ID: f.Name, Title: f.Name, URL: labURL(lc.Lab.ID, lc.Tab, f.Name), Current: f.Name == lc.fnName()})
		}
	}
	for _, p := range all {
		v.Tabs = append(v.Tabs, ui.LabChoice{ID: p.ID, Title: p.Title, URL: labURL(lc.Lab.ID, p.ID, lc.fnName()), Current: p.ID == lc.Tab})
	}
	site := s.siteFor(r)
	site.Wide = true
	// static.URL panics on a script that is not embedded: every render
	// test of a lab page would say so, where skipping it would leave the
	// workspace quietly without its editor.
	for _, name := range labScripts {
		site.Scripts = append(site.Scripts, static.URL(name))
	}
	s.render(w, r, status, ui.LabPage(site, v))
}

// labDoc is a lab's instructions rendered once.
type labDoc struct {
	intro string
	tasks []ui.LabTask
}

// labDocs keeps each loaded lab's rendered instructions. Labs are replaced
// whole when author mode reloads them, so a lab's pointer names one text;
// the cache is emptied when it outgrows every lab a reload could leave.
var labDocs struct {
	sync.Mutex
	m map[*labs.Lab]*labDoc
}

func labDocOf(l *labs.Lab) *labDoc {
	labDocs.Lock()
	d, ok := labDocs.m[l]
	labDocs.Unlock()
	if ok {
		return d
	}
	d = &labDoc{intro: content.RenderTrusted(l.Intro)}
	for _, t := range l.Tasks {
		d.tasks = append(d.tasks, ui.LabTask{ID: t.ID, Title: t.Title, HTML: content.RenderTrusted(t.Markdown)})
	}
	labDocs.Lock()
	defer labDocs.Unlock()
	if labDocs.m == nil || len(labDocs.m) >= 256 {
		labDocs.m = map[*labs.Lab]*labDoc{}
	}
	labDocs.m[l] = d
	return d
}

// labStates is the learner's state in every lab they have touched, by lab
// id: passed once a report passed, in progress once they opened the lab
// or were graded in it. A lab missing from the map is not started; nil u
// (a reader) gets an empty map.
func (s *Server) labStates(ctx context.Context, u *store.User) (map[string]ui.LabState, error) {
	out := map[string]ui.LabState{}
	if u == nil {
		return out, nil
	}
	visits, err := s.db.LabVisits(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for lab := range visits {
		out[lab] = ui.LabInProgress
	}
	progress, err := s.db.LabProgress(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for lab, p := range progress {
		switch {
		case p.Passed():
			out[lab] = ui.LabPassed
		case p.Attempts > 0:
			out[lab] = ui.LabInProgress
		}
	}
	return out, nil
}

// labState is the learner's state in one lab.
func (s *Server) labState(ctx context.Context, u *store.User, lab string) (ui.LabState, error) {
	states, err := s.labStates(ctx, u)
	if err != nil {
		return "", err
	}
	if st, ok := states[lab]; ok {
		return st, nil
	}
	return ui.LabNotStarted, nil
}
