// Package web is the course site over HTTP: lessons, quizzes, accounts,
// progress and the instructor's view. Handlers parse, call store or content,
// and render a web/ui component; they hold no SQL and parse no Markdown.
package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"lambdalab/content"
	"lambdalab/labs"
	"lambdalab/static"
	"lambdalab/store"
	"lambdalab/web/ui"
)

// Config is what New needs. DB and Logger are required.
type Config struct {
	DB     *store.DB
	Logger *slog.Logger
	// Course is the course to serve. In author mode it may be nil at first;
	// SetCourse replaces it on every change.
	Course *content.Course
	// AuthorMode adds the live-reload event stream and its script, and shows
	// course load errors as a page.
	AuthorMode bool
	// SessionTTL is how long a sign-in lasts. Zero means 14 days.
	SessionTTL time.Duration
	// SessionIdle ends a session unused for this long, before SessionTTL.
	// Zero means 2 days; negative means no idle limit.
	SessionIdle time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed (see proxy.go). Empty trusts none:
	// the peer is the client, and only TLS to us counts as HTTPS.
	TrustedProxies []netip.Prefix
	// BaseURL is the site's public address, such as
	// https://class.example.org, for links sent elsewhere (absoluteURL).
	// Empty builds them from each request's Host.
	BaseURL string
	// Signup says who may create an account (serve --signup); zero means
	// SignupOpen. The first user of a fresh install always may.
	Signup SignupMode
	// SignupDomain, when set, admits only e-mail addresses at exactly this
	// domain (serve --signup-domain), the first user excepted.
	SignupDomain string
	// MaxBodyBytes caps every request body. Zero means 64 KiB, plenty for
	// the site's forms.
	MaxBodyBytes int64
	// LoginFailures is how many wrong passwords one client may try for one
	// account before each further try waits twice as long as the one
	// before (see signinLimiter); zero means 5. LoginMaxDelay is the
	// longest that wait grows to; zero means 15 minutes.
	LoginFailures int
	LoginMaxDelay time.Duration
	// AWSEndpoint is the URL the AWS CLI and SDKs reach the emulated
	// accounts at, shown on the account page. Zero means
	// http://127.0.0.1:4566.
	AWSEndpoint string
	// XRayLayer says where the ready X-Ray SDK layer zip is, once built
	// (the X-Ray lab ships it as a layer); nil or false means not yet.
	XRayLayer func() (path string, ok bool)
	// Cloud is the emulated AWS side the lab workspace drives; nil serves
	// lessons only (lab pages say labs are unavailable).
	Cloud *Cloud
	// Labs are the labs to offer at first; SetLabs replaces them.
	Labs []*labs.Lab
	// Limits bound each learner's deploys, invokes, gradings and other
	// changes per minute; zero fields take the defaults.
	Limits ActionLimits
}

// Server serves the course site. Create it with New and mount Routes.
type Server struct {
	db          *store.DB
	logger      *slog.Logger
	authorMode  bool
	sessionTTL  time.Duration
	maxBody     int64
	awsEndpoint string
	xrayLayer   func() (string, bool)

	sessionIdle    time.Duration // zero: no idle limit
	trustedProxies []netip.Prefix
	baseURL        string // checked, without a trailing slash; "" builds links from the request
	signupMode     SignupMode
	signupDomain   string // lower case; "" admits every domain
	// passwordGuesses counts current-password checks on /account/password.
	passwordGuesses *guessLimit

	state atomic.Pointer[courseState]

	highlightCSS  []byte
	highlightETag string
	highlightURL  string

	logins  *signinLimiter // failed sign-ins per account and client key
	signups *limiter       // sign-up attempts per client key

	// dummyHash is compared against when an e-mail is unknown, so both
	// paths cost one bcrypt compare.
	dummyHash string
	// hashPassword and checkPassword are store's; tests wrap them to count
	// the bcrypt work a request costs.
	hashPassword  func(pw string) (string, error)
	checkPassword func(hash, pw string) bool

	visits   sync.Mutex
	lastSeen map[int64]string // user id → lesson last recorded as visited

	events *broadcaster

	progressCache *progressCache

	cloud   *Cloud
	labs    atomic.Pointer[[]*labs.Lab]
	actions actionLimiters
}

// courseState is one loaded course or the error that replaced it. It is
// swapped whole so a request sees one consistent course.
type courseState struct {
	course *content.Course
	err    error
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.DB == nil {
		return nil, errors.New("web: Config.DB is required")
	}
	if cfg.Logger == nil {
		return nil, errors.New("web: Config.Logger is required")
	}
	if cfg.Course == nil && !cfg.AuthorMode {
		return nil, errors.New("web: Config.Course is required outside author mode")
	}
	s := &Server{
		db:          cfg.DB,
		logger:      cfg.Logger,
		authorMode:  cfg.AuthorMode,
		sessionTTL:  cfg.SessionTTL,
		maxBody:     cfg.MaxBodyBytes,
		awsEndpoint: cfg.AWSEndpoint,
		xrayLayer:   cfg.XRayLayer,
		lastSeen:    map[int64]string{},
		events:      newBroadcaster(),
		// A minute bounds staleness if something outside web ever writes
		// progress; 10,000 users' progress is a few MB at most.
		progressCache: newProgressCache(time.Minute, 10000),
		cloud:         cfg.Cloud,
		actions:       newActionLimiters(cfg.Limits),
	}
	s.SetLabs(cfg.Labs)
	if s.sessionTTL == 0 {
		s.sessionTTL = 14 * 24 * time.Hour
	}
	switch {
	case cfg.SessionIdle == 0:
		s.sessionIdle = 2 * 24 * time.Hour
	case cfg.SessionIdle > 0:
		s.sessionIdle = cfg.SessionIdle
	}
	s.trustedProxies = cfg.TrustedProxies
	base, err := CheckBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s.baseURL = base
	if s.signupMode, err = ParseSignupMode(string(cfg.Signup)); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if s.signupDomain, err = CheckSignupDomain(cfg.SignupDomain); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s.passwordGuesses = newGuessLimit(5, 15*time.Minute)
	if s.maxBody == 0 {
		s.maxBody = 64 << 10
	}
	if s.awsEndpoint == "" {
		s.awsEndpoint = "http://127.0.0.1:4566"
	}
	failures, ceiling := cfg.LoginFailures, cfg.LoginMaxDelay
	if failures == 0 {
		failures = 5
	}
	if ceiling == 0 {
		ceiling = 15 * time.Minute
	}
	s.logins = newSigninLimiter(failures, ceiling)
	// Every attempt counts, failed or not, so that neither bad input nor
	// taken e-mails can be tried without end; 60 an hour leaves room for a
	// classroom behind one NAT getting its passwords right.
	s.signups = newLimiter(60, time.Hour)
	dummy, err := store.DummyPasswordHash()
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s.dummyHash = dummy
	s.hashPassword, s.checkPassword = store.HashPassword, store.CheckPassword

	s.highlightCSS = []byte(content.HighlightCSS())
	sum := sha256.Sum256(s.highlightCSS)
	s.highlightETag = hex.EncodeToString(sum[:8])
	s.highlightURL = "/highlight.css?v=" + s.highlightETag

	if cfg.Course != nil {
		s.state.Store(&courseState{course: cfg.Course})
	}
	return s, nil
}

// SetCourse swaps in a newly loaded course, or records why loading failed,
// and tells open author-mode tabs to reload. It matches content.Watch's
// callback, and is safe to call while requests are served.
func (s *Server) SetCourse(c *content.Course, err error) {
	// content.Watch has already logged the outcome.
	s.state.Store(&courseState{course: c, err: err})
	s.events.broadcast()
}

// Close ends long-lived event streams so that http.Server.Shutdown need not
// wait for them; register it with http.Server.RegisterOnShutdown.
func (s *Server) Close() {
	s.events.close()
}

// site is the frame every page needs.
func (s *Server) site(u *store.User) ui.Site {
	title := "lambdalab"
	if st := s.state.Load(); st != nil && st.course != nil && st.course.Title != "" {
		title = st.course.Title
	}
	site := ui.Site{
		CourseTitle:  title,
		User:         u,
		CSS:          static.URL("app.css"),
		HighlightCSS: s.highlightURL,
	}
	if s.authorMode {
		site.AuthorScript = static.URL("author.js")
	}
	return site
}
