package web

import (
	"fmt"
	"net/http"

	"lambdalab/cloud"
	"lambdalab/store"
	"lambdalab/web/ui"
)

// awsRegion is the one region every emulated account lives in.
const awsRegion = cloud.Region

// account shows the signed-in user their own AWS account and access key.
// It is the only page that shows a secret key, and only to its owner.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r, "/account")
	if u == nil {
		return
	}
	keys, err := s.db.AccountKeys(r.Context(), u.AccountID)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("account page: %w", err))
		return
	}
	v := ui.AccountView{
		XRayLayerReady: s.xrayLayerPath() != "",
		AccountID:      u.AccountID,
		Region:         awsRegion,
		Endpoint:       s.awsEndpoint,
		Rotated:        r.URL.Query().Get("rotated") == "1",
	}
	if len(keys) > 0 {
		k := keys[len(keys)-1] // the newest
		v.AccessKeyID, v.Secret = k.ID, k.Secret
		v.Env = awsEnv(k, s.awsEndpoint)
	}
	s.render(w, r, http.StatusOK, ui.AccountPage(s.siteFor(r), v))
}

// rotateKeys replaces the signed-in user's key pair; the old one stops
// working at once. Cross-origin posts never get here (see Routes).
func (s *Server) rotateKeys(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r, "/account")
	if u == nil {
		return
	}
	k, err := s.db.RotateAccessKey(r.Context(), u.AccountID)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("rotate access key: %w", err))
		return
	}
	s.logger.InfoContext(r.Context(), "access key rotated", "user_id", u.ID, "account", u.AccountID, "access_key_id", k.ID)
	http.Redirect(w, r, "/account?rotated=1", http.StatusSeeOther)
}

// awsEnv is the shell setup for key, as `lambdalab user keys` prints it.
func awsEnv(k store.AccessKey, endpoint string) string {
	return cloud.ShellEnv("", k.ID, k.Secret, endpoint)
}

func (s *Server) xrayLayerPath() string {
	if s.xrayLayer == nil {
		return ""
	}
	if p, ok := s.xrayLayer(); ok {
		return p
	}
	return ""
}

// xrayLayerZip hands a signed-in learner the ready X-Ray SDK layer, to
// publish into their account with one PublishLayerVersion call.
func (s *Server) xrayLayerZip(w http.ResponseWriter, r *http.Request) {
	if u := s.requireUser(w, r, "/account"); u == nil {
		return
	}
	path := s.xrayLayerPath()
	if path == "" {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "The X-Ray layer is not built yet: lambdalab builds it once its sandbox is running. Try again in a minute.", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="aws-xray-sdk-layer.zip"`)
	http.ServeFile(w, r, path)
}
