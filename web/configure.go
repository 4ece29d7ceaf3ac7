package web

// The Configuration tab (WORKSPACE.md): the chosen function's settings,
// layers, concurrency, resource policy and asynchronous invocation, each
// changed by a small form of its own through the Lambda service of the
// learner's account. Lambda validates what the learner sends; a refusal is
// shown with Lambda's reason beside the refilled form. The panel itself is
// built in configure_panel.go.

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"unicode"

	"lambdalab/cloud/lambda"
	"lambdalab/sandbox"
)

func (s *Server) configRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /labs/{lab}/config/general", s.configGeneral)
	mux.HandleFunc("POST /labs/{lab}/config/env", s.configEnv)
	mux.HandleFunc("POST /labs/{lab}/config/layers", s.configLayers)
	mux.HandleFunc("POST /labs/{lab}/config/layers/upload", s.configLayerUpload)
	mux.HandleFunc("POST /labs/{lab}/config/layers/xray", s.configXRayLayer)
	mux.HandleFunc("POST /labs/{lab}/config/concurrency", s.configReserved)
	mux.HandleFunc("POST /labs/{lab}/config/provisioned", s.configProvisioned)
	mux.HandleFunc("POST /labs/{lab}/config/permissions", s.configAddPermission)
	mux.HandleFunc("POST /labs/{lab}/config/permissions/remove", s.configRemovePermission)
	mux.HandleFunc("POST /labs/{lab}/config/async", s.configAsync)
	mux.HandleFunc("POST /labs/{lab}/config/async/remove", s.configAsyncRemove)
}

// xrayLayerName is the layer the ready X-Ray SDK is published as: the name
// the X-Ray lab's checks look for (labs/xray-layer).
const xrayLayerName = "aws-xray-sdk"

// cfgStart begins a form of a function's panel: the lab and learner, a
// function of the lab (a lab without one has nothing to change: 404), and
// one change counted against the learner's limit.
func (s *Server) cfgStart(w http.ResponseWriter, r *http.Request) (*labCtx, bool) {
	lc, ok := s.labFromPath(w, r)
	if !ok {
		return nil, false
	}
	if lc.Fn == nil {
		s.notFoundPage(w, r)
		return nil, false
	}
	if !s.allow(w, r, lc.User, actChange) {
		return nil, false
	}
	return lc, true
}

// cfgLambdaRefused answers a form whose call Lambda refused: its reason beside
// the refilled form on tab. Anything that is not a refusal is the platform
// failing.
func (s *Server) cfgLambdaRefused(w http.ResponseWriter, r *http.Request, lc *labCtx, tab string, err error) {
	reason, ok := refusal(err)
	if !ok {
		s.serverError(w, r, err)
		return
	}
	s.actionRefused(w, r, lc, tab, cfgRefusalStatus(err), reason)
}

// cfgRefusalStatus is the status a refused form is answered with: 422 for a
// value Lambda refuses, 409 when the function changed meanwhile or the
// thing exists already, 404 for what is not there.
func cfgRefusalStatus(err error) int {
	le, ok := lambda.AsError(err)
	if !ok {
		return http.StatusUnprocessableEntity
	}
	switch le.Status {
	case http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests, http.StatusRequestEntityTooLarge:
		return le.Status
	case http.StatusPreconditionFailed:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// cfgNumber reads a whole number the learner typed into the field name
// (label is how the form calls it). msg says what is wrong, for the
// learner, when it is not a number; Lambda judges the number itself.
func cfgNumber(r *http.Request, name, label string) (n int, msg string) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return 0, label + " is empty: give a whole number."
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Sprintf("%s must be a whole number; %q is not one.", label, v)
	}
	return n, ""
}

// cfgOptionalNumber is cfgNumber for a field that may stay empty (nil:
// Lambda's default).
func cfgOptionalNumber(r *http.Request, name, label string) (*int, string) {
	if strings.TrimSpace(r.PostFormValue(name)) == "" {
		return nil, ""
	}
	n, msg := cfgNumber(r, name, label)
	if msg != "" {
		return nil, msg
	}
	return &n, ""
}

// configGeneral saves runtime, handler, memory, timeout, ephemeral storage,
// tracing and description of $LATEST in one UpdateFunctionConfiguration,
// with the RevisionId the form was made with.
func (s *Server) configGeneral(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	in, msg := cfgGeneralInput(r)
	if msg != "" {
		s.actionRefused(w, r, lc, "config", http.StatusUnprocessableEntity, msg)
		return
	}
	cfg, err := s.cloud.Lambda.UpdateFunctionConfiguration(r.Context(), lc.Account, lc.Fn.Name, in)
	if err != nil {
		s.cfgLambdaRefused(w, r, lc, "config", err)
		return
	}
	s.actionDone(w, r, lc, "config", fmt.Sprintf("Saved: %s runs %s with %d MB, a %d s timeout and %s tracing.",
		cfg.FunctionName, cfg.Runtime, cfg.MemorySize, cfg.Timeout, cfg.TracingConfig.Mode))
}

// cfgGeneralInput is the general form as Lambda takes it, or what is wrong
// with a number in it.
func cfgGeneralInput(r *http.Request) (lambda.ConfigInput, string) {
	memory, msg := cfgNumber(r, "memory", "Memory")
	if msg != "" {
		return lambda.ConfigInput{}, msg
	}
	timeout, msg := cfgNumber(r, "timeout", "Timeout")
	if msg != "" {
		return lambda.ConfigInput{}, msg
	}
	ephemeral, msg := cfgNumber(r, "ephemeral", "Ephemeral storage")
	if msg != "" {
		return lambda.ConfigInput{}, msg
	}
	runtime, handler := r.PostFormValue("runtime"), strings.TrimSpace(r.PostFormValue("handler"))
	description := r.PostFormValue("description")
	return lambda.ConfigInput{
		Runtime: &runtime, Handler: &handler, Description: &description,
		MemorySize: &memory, Timeout: &timeout,
		EphemeralStorage: &lambda.EphemeralStorage{Size: ephemeral},
		TracingConfig:    &lambda.TracingConfig{Mode: r.PostFormValue("tracing")},
		RevisionID:       r.PostFormValue("revision"),
	}, ""
}

// configEnv replaces $LATEST's environment variables with the form's rows:
// the filled rows not ticked for removal.
func (s *Server) configEnv(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	vars, msg := cfgEnvFromForm(r.PostForm["env_key"], r.PostForm["env_value"], r.PostForm["env_remove"])
	if msg != "" {
		s.actionRefused(w, r, lc, "config", http.StatusUnprocessableEntity, msg)
		return
	}
	in := lambda.ConfigInput{Environment: &lambda.Environment{Variables: vars}, RevisionID: r.PostFormValue("revision")}
	if _, err := s.cloud.Lambda.UpdateFunctionConfiguration(r.Context(), lc.Account, lc.Fn.Name, in); err != nil {
		s.cfgLambdaRefused(w, r, lc, "config", err)
		return
	}
	s.actionDone(w, r, lc, "config", fmt.Sprintf("Saved the environment of %s: %s.", lc.Fn.Name, cfgPlural(len(vars), "variable")))
}

// cfgEnvFromForm turns the rows of the environment form into variables. Names
// are trimmed (a pasted name often carries a space); values are kept as
// typed. A name given twice would silently lose one value, so it is
// refused; everything else about names is Lambda's to judge.
func cfgEnvFromForm(keys, values, remove []string) (map[string]string, string) {
	if len(keys) != len(values) {
		return nil, "The form arrived incomplete; reload the page and try again."
	}
	removed := map[string]bool{}
	for _, i := range remove {
		removed[i] = true
	}
	vars := map[string]string{}
	for i := range keys {
		k, v := strings.TrimSpace(keys[i]), values[i]
		if removed[strconv.Itoa(i)] || (k == "" && v == "") {
			continue
		}
		if k == "" {
			return nil, fmt.Sprintf("Row %d has a value but no name.", i+1)
		}
		if _, dup := vars[k]; dup {
			return nil, fmt.Sprintf("%s is given twice; a variable has one value.", k)
		}
		vars[k] = v
	}
	return vars, ""
}

func cfgPlural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// configLayers changes the order of $LATEST's layers, removes one, or
// attaches one. The form carries the list as the page showed it and the
// RevisionId it was shown with, so a list changed meanwhile is refused by
// Lambda rather than overwritten.
func (s *Server) configLayers(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	list := r.PostForm["layer"]
	op := r.PostFormValue("op")
	var flash string
	if op == "attach" {
		arn := strings.TrimSpace(r.PostFormValue("arn"))
		if arn == "" {
			arn = r.PostFormValue("attach")
		}
		if arn == "" {
			s.actionRefused(w, r, lc, "config", http.StatusUnprocessableEntity, "Choose a layer version, or paste its ARN.")
			return
		}
		list = cfgWithLayer(list, arn)
		flash = "Attached " + cfgLayerWords(arn) + "."
	} else {
		verb, index, _ := strings.Cut(op, ":")
		i, err := strconv.Atoi(index)
		if err != nil || i < 0 || i >= len(list) {
			s.actionRefused(w, r, lc, "config", http.StatusUnprocessableEntity, "That layer is not in the list any more; reload the page.")
			return
		}
		moved := cfgLayerWords(list[i])
		switch {
		case verb == "up" && i > 0:
			list[i-1], list[i] = list[i], list[i-1]
			flash = "Moved " + moved + " up."
		case verb == "down" && i < len(list)-1:
			list[i+1], list[i] = list[i], list[i+1]
			flash = "Moved " + moved + " down."
		case verb == "remove":
			list = append(list[:i:i], list[i+1:]...)
			flash = "Removed " + moved + " from " + lc.Fn.Name + "."
		default:
			s.actionRefused(w, r, lc, "config", http.StatusUnprocessableEntity, "That layer cannot move that way.")
			return
		}
	}
	if list == nil {
		list = []string{} // an empty list detaches every layer; nil would change nothing
	}
	in := lambda.ConfigInput{Layers: &list, RevisionID: r.PostFormValue("revision")}
	if _, err := s.cloud.Lambda.UpdateFunctionConfiguration(r.Context(), lc.Account, lc.Fn.Name, in); err != nil {
		s.cfgLambdaRefused(w, r, lc, "config", err)
		return
	}
	s.actionDone(w, r, lc, "config", flash)
}

// cfgWithLayer is list with arn attached: in the place of another version of
// the same layer (Lambda refuses two versions of one layer, and a learner
// attaching version 2 means it instead of version 1), or at the end.
func cfgWithLayer(list []string, arn string) []string {
	out := append([]string(nil), list...)
	for i, l := range out {
		if cfgLayerOf(l) == cfgLayerOf(arn) {
			out[i] = arn
			return out
		}
	}
	return append(out, arn)
}

// cfgLayerOf is a layer version ARN without its version: the layer's ARN.
func cfgLayerOf(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i > 0 {
		return arn[:i]
	}
	return arn
}

// cfgLayerParts splits arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION.
func cfgLayerParts(arn string) (name, version string) {
	parts := strings.Split(arn, ":")
	if len(parts) == 8 && parts[5] == "layer" {
		return parts[6], parts[7]
	}
	return arn, ""
}

// cfgLayerWords names a layer version for a flash: "aws-xray-sdk version 1".
func cfgLayerWords(arn string) string {
	name, version := cfgLayerParts(arn)
	if version == "" {
		return name
	}
	return name + " version " + version
}

// maxLayerUpload caps a layer upload: Lambda's 50 MB for a zip sent
// directly, and room for the form's other fields.
const maxLayerUpload = 50<<20 + 1<<20

// configLayerUpload publishes a new layer version from an uploaded zip and,
// when asked, attaches it to $LATEST.
func (s *Server) configLayerUpload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLayerUpload)
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		if r.PostForm == nil {
			r.PostForm = map[string][]string{}
		}
		r.PostForm.Set("form", "layer-upload")
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.actionRefused(w, r, lc, "config", http.StatusRequestEntityTooLarge,
				"The upload is larger than 50 MB, the most Lambda takes as a zip sent directly. Leave out what the layer does not need.")
			return
		}
		s.actionRefused(w, r, lc, "config", http.StatusUnprocessableEntity, "The form did not arrive as a file upload; reload the page and try again.")
		return
	}
	defer r.MultipartForm.RemoveAll()
	f, _, err := r.FormFile("zip")
	if err != nil {
		s.actionRefused(w, r, lc, "config", http.StatusUnprocessableEntity, "Choose the layer's zip file.")
		return
	}
	zip, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		s.serverError(w, r, fmt.Errorf("read layer upload: %w", err))
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	runtimes := strings.FieldsFunc(r.PostFormValue("runtimes"), func(c rune) bool { return c == ',' || unicode.IsSpace(c) })
	lv, err := s.cloud.Lambda.PublishLayerVersion(r.Context(), lc.Account, name, lambda.PublishLayerInput{
		Content: lambda.FunctionCode{ZipFile: zip}, CompatibleRuntimes: runtimes, Description: r.PostFormValue("description")})
	if err != nil {
		s.cfgLambdaRefused(w, r, lc, "config", err)
		return
	}
	published := fmt.Sprintf("Published %s (%s).", cfgLayerWords(lv.LayerVersionArn), cfgSize(int64(len(zip))))
	if r.PostFormValue("attach") == "" {
		s.actionDone(w, r, lc, "config", published)
		return
	}
	s.cfgAttachPublished(w, r, lc, lv.LayerVersionArn, published)
}

// cfgAttachPublished attaches a layer version just published. When Lambda
// refuses, the version stays published and the refusal says so.
func (s *Server) cfgAttachPublished(w http.ResponseWriter, r *http.Request, lc *labCtx, arn, published string) {
	list := cfgWithLayer(r.PostForm["layer"], arn)
	in := lambda.ConfigInput{Layers: &list, RevisionID: r.PostFormValue("revision")}
	if _, err := s.cloud.Lambda.UpdateFunctionConfiguration(r.Context(), lc.Account, lc.Fn.Name, in); err != nil {
		reason, ok := refusal(err)
		if !ok {
			s.serverError(w, r, err)
			return
		}
		s.actionRefused(w, r, lc, "config", cfgRefusalStatus(err), published+" Lambda refused to attach it: "+reason)
		return
	}
	s.actionDone(w, r, lc, "config", strings.TrimSuffix(published, ".")+", and attached it to "+lc.Fn.Name+".")
}

// configXRayLayer publishes the ready X-Ray SDK zip into the learner's
// account as the layer aws-xray-sdk (as the lab's publish-layer-version
// command does) and attaches it. When the account's newest version of that
// layer already holds the same zip, that version is attached instead of
// publishing another.
func (s *Server) configXRayLayer(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	path := s.xrayLayerPath()
	if path == "" {
		s.actionRefused(w, r, lc, "config", http.StatusConflict, "The X-Ray SDK layer is still being prepared; try again in a minute.")
		return
	}
	zip, err := os.ReadFile(path)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("read the ready x-ray layer: %w", err))
		return
	}
	arn, err := s.cfgExistingLayer(r, lc.Account, xrayLayerName, zip)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	published := fmt.Sprintf("Your account already has the SDK as %s.", cfgLayerWords(arn))
	if arn == "" {
		lv, err := s.cloud.Lambda.PublishLayerVersion(r.Context(), lc.Account, xrayLayerName, lambda.PublishLayerInput{
			Content: lambda.FunctionCode{ZipFile: zip}, CompatibleRuntimes: []string{sandbox.RuntimePython313},
			Description: "AWS X-Ray SDK for Python, lambdalab's ready layer"})
		if err != nil {
			s.cfgLambdaRefused(w, r, lc, "config", err)
			return
		}
		arn = lv.LayerVersionArn
		published = fmt.Sprintf("Published the X-Ray SDK as %s (%s).", cfgLayerWords(arn), cfgSize(int64(len(zip))))
	}
	s.cfgAttachPublished(w, r, lc, arn, published)
}

// cfgExistingLayer is the ARN of the newest version of layer in account when
// it holds exactly zip, or "".
func (s *Server) cfgExistingLayer(r *http.Request, account, layer string, zip []byte) (string, error) {
	vs, err := s.cloud.Lambda.ListLayerVersions(r.Context(), account, layer)
	if err != nil {
		return "", fmt.Errorf("versions of layer %s: %w", layer, err)
	}
	if len(vs.LayerVersions) == 0 {
		return "", nil
	}
	newest := vs.LayerVersions[0]
	lv, err := s.cloud.Lambda.GetLayerVersion(r.Context(), account, layer, int(newest.Version))
	if err != nil {
		return "", fmt.Errorf("layer %s version %d: %w", layer, newest.Version, err)
	}
	sum := sha256.Sum256(zip)
	if lv.Content != nil && lv.Content.CodeSha256 == base64.StdEncoding.EncodeToString(sum[:]) {
		return lv.LayerVersionArn, nil
	}
	return "", nil
}

// configReserved reserves concurrency for the function, or removes the
// reservation.
func (s *Server) configReserved(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	name := lc.Fn.Name
	if r.PostFormValue("op") == "delete" {
		if err := s.cloud.Lambda.DeleteFunctionConcurrency(r.Context(), lc.Account, name); err != nil {
			s.cfgLambdaRefused(w, r, lc, "config", err)
			return
		}
		s.actionDone(w, r, lc, "config", "Removed the reservation: "+name+" shares the account's unreserved concurrency again.")
		return
	}
	n, msg := cfgNumber(r, "reserved", "Reserved concurrency")
	if msg != "" {
		s.actionRefused(w, r, lc, "config", http.StatusUnprocessableEntity, msg)
		return
	}
	if _, err := s.cloud.Lambda.PutFunctionConcurrency(r.Context(), lc.Account, name, n); err != nil {
		s.cfgLambdaRefused(w, r, lc, "config", err)
		return
	}
	if n == 0 {
		s.actionDone(w, r, lc, "config", "Reserved 0: every invocation of "+name+" is throttled until you raise or remove the reservation.")
		return
	}
	s.actionDone(w, r, lc, "config", fmt.Sprintf("Reserved %d for %s: at most %d run at once, and they are kept for it alone.", n, name, n))
}

// configProvisioned puts or removes provisioned concurrency on a version
// or alias.
func (s *Server) configProvisioned(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	q := r.PostFormValue("qualifier")
	target := lc.Fn.Name + ":" + q
	if r.PostFormValue("op") == "delete" {
		if err := s.cloud.Lambda.DeleteProvisionedConcurrencyConfig(r.Context(), lc.Account, lc.Fn.Name, q); err != nil {
			s.cfgLambdaRefused(w, r, lc, "config", err)
			return
		}
		s.actionDone(w, r, lc, "config", "Released the provisioned instances of "+target+".")
		return
	}
	n, msg := cfgNumber(r, "count", "Instances")
	if msg != "" {
		s.actionRefused(w, r, lc, "config", http.StatusUnprocessableEntity, msg)
		return
	}
	if _, err := s.cloud.Lambda.PutProvisionedConcurrencyConfig(r.Context(), lc.Account, lc.Fn.Name, q, n); err != nil {
		s.cfgLambdaRefused(w, r, lc, "config", err)
		return
	}
	s.actionDone(w, r, lc, "config", fmt.Sprintf("Asked for %s of %s kept warm: IN_PROGRESS while they start, READY once all are up.", cfgPlural(n, "instance"), target))
}

// configAddPermission adds a statement to the resource policy of the
// function, or of one of its aliases or versions.
func (s *Server) configAddPermission(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	field := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	in := lambda.AddPermissionInput{StatementID: field("sid"), Action: field("action"), Principal: field("principal"),
		SourceArn: field("source_arn"), SourceAccount: field("source_account")}
	if _, err := s.cloud.Lambda.AddPermission(r.Context(), lc.Account, lc.Fn.Name, r.PostFormValue("qualifier"), in); err != nil {
		s.cfgLambdaRefused(w, r, lc, "config", err)
		return
	}
	s.actionDone(w, r, lc, "config", "Added the statement "+in.StatementID+" to the policy of "+cfgQualified(lc.Fn.Name, r.PostFormValue("qualifier"))+".")
}

// configRemovePermission removes one statement.
func (s *Server) configRemovePermission(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	sid, q := r.PostFormValue("sid"), r.PostFormValue("qualifier")
	if err := s.cloud.Lambda.RemovePermission(r.Context(), lc.Account, lc.Fn.Name, q, sid); err != nil {
		s.cfgLambdaRefused(w, r, lc, "config", err)
		return
	}
	s.actionDone(w, r, lc, "config", "Removed the statement "+sid+" from the policy of "+cfgQualified(lc.Fn.Name, q)+".")
}

// cfgQualified is name:qualifier, or name alone.
func cfgQualified(name, q string) string {
	if q == "" {
		return name
	}
	return name + ":" + q
}

// configAsync replaces the asynchronous invocation settings of the
// function ($LATEST) or of a version or alias. Empty fields are Lambda's
// defaults.
func (s *Server) configAsync(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	retries, msg := cfgOptionalNumber(r, "retries", "Retry attempts")
	var age *int
	if msg == "" {
		age, msg = cfgOptionalNumber(r, "max_age", "Maximum event age")
	}
	if msg != "" {
		s.actionRefused(w, r, lc, "config", http.StatusUnprocessableEntity, msg)
		return
	}
	q := r.PostFormValue("qualifier")
	in := lambda.EventInvokeConfigInput{MaximumRetryAttempts: retries, MaximumEventAgeInSeconds: age,
		DestinationConfig: &lambda.DestinationConfig{
			OnSuccess: lambda.Destination{Destination: strings.TrimSpace(r.PostFormValue("on_success"))},
			OnFailure: lambda.Destination{Destination: strings.TrimSpace(r.PostFormValue("on_failure"))},
		}}
	if _, err := s.cloud.Lambda.PutFunctionEventInvokeConfig(r.Context(), lc.Account, lc.Fn.Name, q, in, false); err != nil {
		s.cfgLambdaRefused(w, r, lc, "config", err)
		return
	}
	s.actionDone(w, r, lc, "config", "Saved the asynchronous invocation settings of "+cfgAsyncTarget(lc.Fn.Name, q)+".")
}

// configAsyncRemove goes back to Lambda's defaults for one qualifier.
func (s *Server) configAsyncRemove(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	q := r.PostFormValue("qualifier")
	if err := s.cloud.Lambda.DeleteFunctionEventInvokeConfig(r.Context(), lc.Account, lc.Fn.Name, q); err != nil {
		s.cfgLambdaRefused(w, r, lc, "config", err)
		return
	}
	s.actionDone(w, r, lc, "config", "Removed the asynchronous invocation settings of "+cfgAsyncTarget(lc.Fn.Name, q)+": Lambda's defaults apply.")
}

// cfgAsyncTarget names what an async configuration is on: $LATEST when the
// qualifier is empty, as Lambda's FunctionArn shows it.
func cfgAsyncTarget(name, q string) string {
	if q == "" {
		q = "$LATEST"
	}
	return name + ":" + q
}
