package web

import (
	"net/http"

	"lambdalab/static"
)

// Routes returns the site's handler: every route, wrapped in the client's
// identification (its address and HTTPS behind trusted proxies), the
// request log, panic recovery, security headers, CSRF protection, the body
// cap and the session lookup (outermost first). A path without a route gets
// the site's 404 page, or 405 when it has routes for other methods.
func (s *Server) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /lessons/{slug}", s.lesson)
	mux.HandleFunc("POST /lessons/{slug}/complete", s.markComplete)
	mux.HandleFunc("POST /lessons/{slug}/incomplete", s.markIncomplete)
	mux.HandleFunc("POST /lessons/{slug}/quizzes/{quiz}", s.submitQuiz)
	mux.HandleFunc("GET /content/{path...}", s.courseAsset)
	mux.HandleFunc("GET /calculators/{name}", s.calculatorFragment)
	mux.HandleFunc("GET /signup", s.signupForm)
	mux.HandleFunc("POST /signup", s.signup)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("POST /logout/everywhere", s.logoutEverywhere)
	mux.HandleFunc("GET /account", s.account)
	mux.HandleFunc("GET /account/password", s.passwordForm)
	mux.HandleFunc("POST /account/password", s.changePassword)
	mux.HandleFunc("POST /account/keys/rotate", s.rotateKeys)
	mux.HandleFunc("GET /downloads/aws-xray-sdk-layer.zip", s.xrayLayerZip)
	mux.HandleFunc("GET /instructor", s.instructor)
	mux.HandleFunc("GET /instructor/progress.csv", s.progressCSV)
	mux.HandleFunc("POST /instructor/invites", s.createInvite)
	mux.HandleFunc("POST /instructor/invites/{id}/revoke", s.revokeInvite)
	mux.HandleFunc("GET /instructor/students/{id}/remove", s.confirmRemoveStudent)
	mux.HandleFunc("POST /instructor/students/{id}/remove", s.removeStudent)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /highlight.css", s.highlight)
	mux.Handle("GET /static/", s.siteNotFound(static.Handler()))
	// The lab workspace: each area registers its own routes, all under
	// /labs/{lab} and all in the signed-in learner's own account.
	s.labPageRoutes(mux)
	s.codeRoutes(mux)
	s.consoleRoutes(mux)
	s.configRoutes(mux)
	s.versionRoutes(mux)
	s.bucketRoutes(mux)
	s.monitorRoutes(mux)
	s.traceRoutes(mux)
	s.checkRoutes(mux)
	if s.authorMode {
		mux.HandleFunc("GET /_author/events", s.authorEvents)
	}

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(s.crossOriginDenied))

	h := s.withFallbacks(mux)
	h = s.loadSession(h)
	h = s.limitBody(h)
	h = csrf.Handler(h)
	h = securityHeaders(h)
	h = s.recoverPanics(h)
	h = s.logRequests(h)
	h = s.identifyClient(h)
	return h
}
