package ui

// InstructorView is the instructor's page: the class table, the people on
// the site, and the invites.
type InstructorView struct {
	Table ClassTable
	// Students and Instructors are every user, apart, ordered by e-mail.
	Students, Instructors []Person
	Invites               []InviteRow // newest first
	// CreatedLink is the sign-up link of an invite just created: its code
	// is stored hashed, so this is the only time it can be shown.
	CreatedLink string
	// SignupMode is serve --signup ("open", "invite" or "closed") and
	// SignupDomain --signup-domain ("" for any).
	SignupMode, SignupDomain string
}

// Person is one user in the instructor's lists.
type Person struct {
	ID     int64
	Email  string
	Joined string // formatted sign-up time
}

// InviteRow is one invite as the instructor sees it.
type InviteRow struct {
	ID      int64
	Note    string
	Created string
	Uses    string // "2" or "2 of 30"
	State   string // "open", "open until …", "used up", "expired …", "revoked …"
	Usable  bool   // it would admit a sign-up now, so it can be revoked
	UsedBy  []string
}
