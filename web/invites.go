package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"lambdalab/store"
	"lambdalab/web/ui"
)

// Who may join (serve --signup, --signup-domain), the instructor's
// invites, and removing a student.

// SignupMode says who may create an account. Whatever the mode, the first
// user of a fresh install may, and becomes the instructor.
type SignupMode string

const (
	// SignupOpen lets anyone sign up: right for a laptop, or a class on a
	// private network.
	SignupOpen SignupMode = "open"
	// SignupInvite needs an invite code from the instructor's page.
	SignupInvite SignupMode = "invite"
	// SignupClosed takes no new accounts.
	SignupClosed SignupMode = "closed"
)

// ParseSignupMode reads --signup; "" is open.
func ParseSignupMode(s string) (SignupMode, error) {
	switch m := SignupMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return SignupOpen, nil
	case SignupOpen, SignupInvite, SignupClosed:
		return m, nil
	}
	return "", fmt.Errorf("sign-up mode %q: want open, invite or closed", s)
}

// CheckSignupDomain reads --signup-domain: a bare domain such as
// example.edu (an @ in front is dropped), returned in lower case; "" allows
// every domain.
func CheckSignupDomain(d string) (string, error) {
	d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
	if d == "" {
		return "", nil
	}
	if len(d) > 253 || !strings.Contains(d, ".") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return "", fmt.Errorf("sign-up domain %q: want a domain like example.edu", d)
	}
	for _, c := range d {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", fmt.Errorf("sign-up domain %q: want a domain like example.edu", d)
		}
	}
	return d, nil
}

// domainAllowed says whether email is at the one allowed domain, if any:
// the part after the last @ must be it exactly, ignoring case, so
// student@sub.example.edu is not at example.edu.
func (s *Server) domainAllowed(email string) bool {
	if s.signupDomain == "" {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	return at >= 0 && strings.EqualFold(email[at+1:], s.signupDomain)
}

// inviteRefused is the one answer to any invite code that cannot be used,
// so guesses learn nothing about which codes exist.
const inviteRefused = "That invite code cannot be used. Ask your instructor for a new invite link."

// signupClosed answers a sign-up when the site takes no new accounts.
func (s *Server) signupClosed(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusForbidden, "Sign-up is closed",
		"This course site is not taking new accounts. Ask your instructor how to join; if you already have an account, sign in.")
}

// newUser is how a sign-up creates its account, chosen by the mode.
type newUser func(ctx context.Context, email, hash string) (store.User, error)

// admission decides, before any password is hashed, whether the sign-up
// form f may create an account under the site's mode and domain, and
// answers the person itself when not. first says nobody has an account
// yet. The store repeats the mode's decision in the transaction that
// creates the user (so a race to be first, or for an invite's last use,
// has one winner); this check only keeps refused sign-ups from costing a
// hash.
func (s *Server) admission(w http.ResponseWriter, r *http.Request, f ui.AuthForm, first bool) (newUser, bool) {
	create := func(ctx context.Context, email, hash string) (store.User, error) {
		return s.db.CreateUser(ctx, email, hash, false)
	}
	switch s.signupMode {
	case SignupClosed:
		create = func(ctx context.Context, email, hash string) (store.User, error) {
			return s.db.CreateFirstUser(ctx, email, hash)
		}
	case SignupInvite:
		code := f.Invite
		create = func(ctx context.Context, email, hash string) (store.User, error) {
			return s.db.CreateInvitedUser(ctx, email, hash, code)
		}
	}
	if first {
		// The instructor-to-be sets the site up: no mode or domain applies.
		return create, true
	}
	again := func(msg string) (newUser, bool) {
		f.Error = msg
		s.render(w, r, http.StatusBadRequest, ui.AuthPage(s.siteFor(r), f))
		return nil, false
	}
	switch s.signupMode {
	case SignupClosed:
		s.signupClosed(w, r)
		return nil, false
	case SignupInvite:
		if f.Invite == "" {
			return again("Enter the invite code from your instructor, or open their invite link.")
		}
		ok, err := s.db.InviteUsable(r.Context(), f.Invite)
		if err != nil {
			s.serverError(w, r, fmt.Errorf("check invite: %w", err))
			return nil, false
		}
		if !ok {
			return again(inviteRefused)
		}
	}
	if !s.domainAllowed(f.Email) {
		return again(fmt.Sprintf("This course takes sign-ups with an address at %s only.", s.signupDomain))
	}
	return create, true
}

// instructorView gathers the instructor page: the class table, the
// people, the invites, and a just-created invite's link (shown once).
func (s *Server) instructorView(w http.ResponseWriter, r *http.Request, created string) (ui.InstructorView, bool) {
	_, t, ok := s.classTable(w, r)
	if !ok {
		return ui.InstructorView{}, false
	}
	v := ui.InstructorView{Table: t, SignupMode: string(s.signupMode), SignupDomain: s.signupDomain, CreatedLink: created}
	users, err := s.db.Users(r.Context())
	if err != nil {
		s.serverError(w, r, fmt.Errorf("list users: %w", err))
		return ui.InstructorView{}, false
	}
	for _, u := range users {
		p := ui.Person{ID: u.ID, Email: u.Email, Joined: formatTime(u.CreatedAt)}
		if u.Role == store.RoleInstructor {
			v.Instructors = append(v.Instructors, p)
		} else {
			v.Students = append(v.Students, p)
		}
	}
	invites, err := s.db.Invites(r.Context())
	if err != nil {
		s.serverError(w, r, fmt.Errorf("list invites: %w", err))
		return ui.InstructorView{}, false
	}
	now := time.Now()
	for _, inv := range invites {
		iv := ui.InviteRow{ID: inv.ID, Note: inv.Note, Created: formatTime(inv.CreatedAt), UsedBy: inv.UsedBy, Usable: inv.Usable(now)}
		iv.Uses = itoa(inv.Uses)
		if inv.MaxUses > 0 {
			iv.Uses += " of " + itoa(inv.MaxUses)
		}
		switch {
		case !inv.RevokedAt.IsZero():
			iv.State = "revoked " + formatTime(inv.RevokedAt)
		case !inv.ExpiresAt.IsZero() && !now.Before(inv.ExpiresAt):
			iv.State = "expired " + formatTime(inv.ExpiresAt)
		case inv.UsesLeft() == 0:
			iv.State = "used up"
		case !inv.ExpiresAt.IsZero():
			iv.State = "open until " + formatTime(inv.ExpiresAt)
		default:
			iv.State = "open"
		}
		v.Invites = append(v.Invites, iv)
	}
	return v, true
}

// maxInviteDays bounds an invite's lifetime as asked on the form.
const maxInviteDays = 365

// createInvite makes an invite from the instructor's form (days to expiry,
// uses, note; each optional) and shows the page with its link, the only
// time the code can be shown.
func (s *Server) createInvite(w http.ResponseWriter, r *http.Request) {
	if !s.requireInstructor(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.badForm(w, r, err)
		return
	}
	n := store.NewInvite{Note: r.PostForm.Get("note"), CreatedBy: userFrom(r.Context()).ID}
	bad := func(msg string) {
		s.errorPage(w, r, http.StatusBadRequest, "Invite not created", msg)
	}
	if v := strings.TrimSpace(r.PostForm.Get("uses")); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > store.MaxInviteUses {
			bad(fmt.Sprintf("Uses must be a whole number from 1 to %d, or empty for no limit.", store.MaxInviteUses))
			return
		}
		n.MaxUses = k
	}
	if v := strings.TrimSpace(r.PostForm.Get("days")); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 1 || d > maxInviteDays {
			bad(fmt.Sprintf("Days must be a whole number from 1 to %d, or empty for no expiry.", maxInviteDays))
			return
		}
		n.ExpiresAt = time.Now().Add(time.Duration(d) * 24 * time.Hour)
	}
	if len(strings.TrimSpace(n.Note)) > 200 {
		bad("Keep the note to 200 characters.")
		return
	}
	inv, code, err := s.db.CreateInvite(r.Context(), n)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("create invite: %w", err))
		return
	}
	s.logger.InfoContext(r.Context(), "invite created", "invite_id", inv.ID, "max_uses", inv.MaxUses)
	if v, ok := s.instructorView(w, r, s.absoluteURL(r, "/signup?invite="+code)); ok {
		s.render(w, r, http.StatusOK, ui.InstructorPage(s.siteFor(r), v))
	}
}

func (s *Server) revokeInvite(w http.ResponseWriter, r *http.Request) {
	if !s.requireInstructor(w, r) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.notFoundPage(w, r)
		return
	}
	err = s.db.RevokeInvite(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.notFoundPage(w, r)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "invite revoked", "invite_id", id)
	http.Redirect(w, r, "/instructor#invites", http.StatusSeeOther)
}

// studentFromPath is the student named by the {id} path value, or a page
// already written: 404 for no such user, 403 for an instructor, who is not
// removed here (yourself included).
func (s *Server) studentFromPath(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.notFoundPage(w, r)
		return store.User{}, false
	}
	u, err := s.db.UserByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.notFoundPage(w, r)
		return store.User{}, false
	}
	if err != nil {
		s.serverError(w, r, err)
		return store.User{}, false
	}
	if u.Role != store.RoleStudent {
		s.errorPage(w, r, http.StatusForbidden, "Not a student",
			"Only students can be removed here. Instructors, you included, stay.")
		return store.User{}, false
	}
	return u, true
}

// confirmRemoveStudent asks the instructor to confirm a removal.
func (s *Server) confirmRemoveStudent(w http.ResponseWriter, r *http.Request) {
	if !s.requireInstructor(w, r) {
		return
	}
	u, ok := s.studentFromPath(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, ui.RemoveStudentPage(s.siteFor(r), ui.Person{ID: u.ID, Email: u.Email, Joined: formatTime(u.CreatedAt)}))
}

// removeStudent deletes a student with all that is theirs in one store
// transaction (store.DeleteStudent), then has the sandbox let go of their
// emulated account.
func (s *Server) removeStudent(w http.ResponseWriter, r *http.Request) {
	if !s.requireInstructor(w, r) {
		return
	}
	u, ok := s.studentFromPath(w, r)
	if !ok {
		return
	}
	gone, err := s.db.DeleteStudent(r.Context(), u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Removed meanwhile, perhaps from another tab: the outcome wanted.
		http.Redirect(w, r, "/instructor#students", http.StatusSeeOther)
		return
	case errors.Is(err, store.ErrInvalid):
		// Made an instructor since studentFromPath looked.
		s.errorPage(w, r, http.StatusForbidden, "Not a student", "Only students can be removed here.")
		return
	case err != nil:
		s.serverError(w, r, fmt.Errorf("remove student: %w", err))
		return
	}
	if s.cloud != nil && s.cloud.Lambda != nil {
		s.cloud.Lambda.ForgetAccount(r.Context(), gone.AccountID)
	}
	s.progressCache.invalidate(gone.ID)
	s.visits.Lock()
	delete(s.lastSeen, gone.ID)
	s.visits.Unlock()
	s.logger.InfoContext(r.Context(), "student removed", "user_id", gone.ID, "account", gone.AccountID,
		"by", userFrom(r.Context()).ID)
	http.Redirect(w, r, "/instructor#students", http.StatusSeeOther)
}
