package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLabRoutesNeedALearnerAndALab: a reader is sent to sign in and back;
// an unknown lab or function is a 404; a site without the emulated AWS side
// says labs are unavailable instead of failing.
func TestLabRoutesNeedALearnerAndALab(t *testing.T) {
	_, all := embeddedCourse(t)
	ts := newTestSite(t, func(c *Config) { c.Labs = all })
	reader := ts.client()
	r := reader.get("/labs/s3-transform")
	wantStatus(t, "reader on a lab", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/login?next=") || !strings.Contains(loc, "s3-transform") {
		t.Errorf("reader sent to %q, want sign-in coming back to the lab", loc)
	}
	student := ts.client()
	student.signup("a@example.com", "correct horse battery")
	wantStatus(t, "unknown lab", student.get("/labs/no-such-lab"), http.StatusNotFound)
	r = student.get("/labs/s3-transform")
	wantStatus(t, "lab without cloud", r, http.StatusServiceUnavailable)
	wantContains(t, "lab without cloud", r.body, "Labs are not available")
}

// TestActionLimit: past the per-minute budget a learner gets 429 with when
// to try again, and another learner is not affected.
func TestActionLimit(t *testing.T) {
	ts := newTestSite(t, func(c *Config) { c.Limits = ActionLimits{Invokes: 2} })
	a := ts.client()
	a.signup("a@example.com", "correct horse battery")
	b := ts.client()
	b.signup("b@example.com", "correct horse battery")
	ua, _ := ts.db.UserByEmail(t.Context(), "a@example.com")
	ub, _ := ts.db.UserByEmail(t.Context(), "b@example.com")
	try := func(u int64) int {
		w := httptest.NewRecorder()
		req, _ := http.NewRequest("POST", "/x", nil)
		user := ua
		if u == ub.ID {
			user = ub
		}
		if ts.srv.allow(w, req, &user, actInvoke) {
			return 200
		}
		return w.Code
	}
	if try(ua.ID) != 200 || try(ua.ID) != 200 {
		t.Fatal("the first two invokes were refused")
	}
	if got := try(ua.ID); got != http.StatusTooManyRequests {
		t.Errorf("third invoke in a minute: %d, want 429", got)
	}
	if got := try(ub.ID); got != 200 {
		t.Errorf("another learner's first invoke: %d, want 200", got)
	}
}
