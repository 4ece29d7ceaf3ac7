package lambda

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"lambdalab/cloud"
	"lambdalab/sandbox"
	"lambdalab/store"
)

// Request body caps, checked before a body is read in full. A deployment
// package of 50 MB arrives base64-encoded inside JSON, about 70 MB.
const (
	maxCodeRequest   = 70167211
	maxConfigRequest = 1 << 20
	maxInvokeRequest = 6291456
)

// Handler serves Lambda's REST API for callers the endpoint has already
// authenticated (cloud.PrincipalFrom on the request context), plus the
// package download links GetFunction hands out (/_lambdalab/code/…, which
// carry their own signature and need no principal).
func (s *Service) Handler() http.Handler {
	h := &apiHandler{s: s, mux: http.NewServeMux()}
	key := make([]byte, 32)
	rand.Read(key)
	h.codeKey = key
	m := h.mux
	m.HandleFunc("POST /2015-03-31/functions", h.createFunction)
	m.HandleFunc("POST /2015-03-31/functions/{$}", h.createFunction)
	m.HandleFunc("GET /2015-03-31/functions", h.listFunctions)
	m.HandleFunc("GET /2015-03-31/functions/{$}", h.listFunctions)
	m.HandleFunc("GET /2015-03-31/functions/{name}", h.getFunction)
	m.HandleFunc("DELETE /2015-03-31/functions/{name}", h.deleteFunction)
	m.HandleFunc("GET /2015-03-31/functions/{name}/configuration", h.getFunctionConfiguration)
	m.HandleFunc("PUT /2015-03-31/functions/{name}/configuration", h.updateFunctionConfiguration)
	m.HandleFunc("PUT /2015-03-31/functions/{name}/code", h.updateFunctionCode)
	m.HandleFunc("POST /2015-03-31/functions/{name}/invocations", h.invoke)
	m.HandleFunc("POST /2015-03-31/functions/{name}/versions", h.publishVersion)
	m.HandleFunc("GET /2015-03-31/functions/{name}/versions", h.listVersions)
	m.HandleFunc("POST /2015-03-31/functions/{name}/aliases", h.createAlias)
	m.HandleFunc("GET /2015-03-31/functions/{name}/aliases", h.listAliases)
	m.HandleFunc("GET /2015-03-31/functions/{name}/aliases/{alias}", h.getAlias)
	m.HandleFunc("PUT /2015-03-31/functions/{name}/aliases/{alias}", h.updateAlias)
	m.HandleFunc("DELETE /2015-03-31/functions/{name}/aliases/{alias}", h.deleteAlias)
	m.HandleFunc("POST /2015-03-31/functions/{name}/policy", h.addPermission)
	m.HandleFunc("GET /2015-03-31/functions/{name}/policy", h.getPolicy)
	m.HandleFunc("DELETE /2015-03-31/functions/{name}/policy/{sid}", h.removePermission)
	m.HandleFunc("PUT /2017-10-31/functions/{name}/concurrency", h.putConcurrency)
	m.HandleFunc("GET /2019-09-30/functions/{name}/concurrency", h.getConcurrency)
	m.HandleFunc("DELETE /2017-10-31/functions/{name}/concurrency", h.deleteConcurrency)
	m.HandleFunc("PUT /2019-09-30/functions/{name}/provisioned-concurrency", h.putProvisioned)
	m.HandleFunc("GET /2019-09-30/functions/{name}/provisioned-concurrency", h.getProvisioned)
	m.HandleFunc("DELETE /2019-09-30/functions/{name}/provisioned-concurrency", h.deleteProvisioned)
	m.HandleFunc("GET /2016-08-19/account-settings", h.accountSettings)
	m.HandleFunc("GET /2016-08-19/account-settings/{$}", h.accountSettings)
	m.HandleFunc("PUT /2019-09-25/functions/{name}/event-invoke-config", h.putEventInvokeConfig)
	m.HandleFunc("POST /2019-09-25/functions/{name}/event-invoke-config", h.updateEventInvokeConfig)
	m.HandleFunc("GET /2019-09-25/functions/{name}/event-invoke-config", h.getEventInvokeConfig)
	m.HandleFunc("DELETE /2019-09-25/functions/{name}/event-invoke-config", h.deleteEventInvokeConfig)
	m.HandleFunc("GET /2019-09-25/functions/{name}/event-invoke-config/list", h.listEventInvokeConfigs)
	m.HandleFunc("PUT /2024-08-31/functions/{name}/recursion-config", h.putRecursionConfig)
	m.HandleFunc("GET /2024-08-31/functions/{name}/recursion-config", h.getRecursionConfig)
	m.HandleFunc("POST /2018-10-31/layers/{layer}/versions", h.publishLayerVersion)
	m.HandleFunc("GET /2018-10-31/layers/{layer}/versions", h.listLayerVersions)
	m.HandleFunc("GET /2018-10-31/layers/{layer}/versions/{version}", h.getLayerVersion)
	m.HandleFunc("DELETE /2018-10-31/layers/{layer}/versions/{version}", h.deleteLayerVersion)
	m.HandleFunc("GET /2018-10-31/layers", h.listLayers)
	m.HandleFunc("GET /2018-10-31/layers/{$}", h.listLayers)
	m.HandleFunc("GET /_lambdalab/code/{sha}", h.downloadCode)
	return h
}

type apiHandler struct {
	s       *Service
	mux     *http.ServeMux
	codeKey []byte
}

func (h *apiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := h.mux.Handler(r)
	if pattern == "" {
		writeError(w, &Error{Type: "UnknownOperationException", Status: 400,
			Message: fmt.Sprintf("lambdalab does not implement the Lambda operation at %s %s", r.Method, r.URL.Path)})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// account is the verified caller's account; the endpoint guarantees one.
func account(r *http.Request) string {
	p, _ := cloud.PrincipalFrom(r.Context())
	return p.AccountID
}

// writeError answers with Lambda's error shape: the exception name in
// X-Amzn-ErrorType and a JSON body with Type and message.
func writeError(w http.ResponseWriter, e *Error) {
	kind := "User"
	if e.Status >= 500 {
		kind = "Service"
	}
	body := map[string]string{"Type": kind, "message": e.Message}
	if e.Reason != "" {
		body["Reason"] = e.Reason
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers a refusal as Lambda would and anything else as a
// ServiceException whose cause is logged, not shown.
func (h *apiHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := AsError(err); ok {
		writeError(w, e)
		return
	}
	if errors.Is(err, store.ErrInvalid) {
		// Input the store refused (text PostgreSQL's text cannot hold, say)
		// that no check of the service caught: the caller's to fix, so a
		// 400, which the SDKs do not retry as they retry a 500. Logged, as
		// a check is missing.
		h.s.logger.WarnContext(r.Context(), "lambda api: the store refused the input", "op", r.Method+" "+r.URL.Path, "err", err)
		msg := "lambdalab cannot store a value of this request"
		if _, why, ok := strings.Cut(err.Error(), store.ErrInvalid.Error()+": "); ok {
			msg += ": " + why
		}
		writeError(w, &Error{Type: "InvalidParameterValueException", Status: 400, Message: msg})
		return
	}
	ref := sandbox.NewRequestID()[:8]
	h.s.logger.ErrorContext(r.Context(), "lambda api", "op", r.Method+" "+r.URL.Path, "ref", ref, "err", err)
	writeError(w, &Error{Type: "ServiceException", Status: 500, Message: "lambdalab failed to handle this request (ref " + ref + ")"})
}

// readJSON decodes a request body of at most limit bytes into v.
func readJSON(r *http.Request, limit int64, op string, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return fmt.Errorf("read %s request: %w", op, err)
	}
	if int64(len(body)) > limit {
		return &Error{Type: "RequestEntityTooLargeException", Status: 413,
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the %s operation", limit, op)}
	}
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalid("1 validation error detected: value at '%s' has the wrong type (%s expected)", te.Field, te.Type)
		}
		return &Error{Type: "InvalidRequestContentException", Status: 400, Message: "Could not parse request body into json: " + err.Error()}
	}
	return nil
}

func qualifier(r *http.Request) string { return r.URL.Query().Get("Qualifier") }

func maxItems(r *http.Request) int {
	n, _ := strconv.Atoi(r.URL.Query().Get("MaxItems"))
	return n
}

func (h *apiHandler) createFunction(w http.ResponseWriter, r *http.Request) {
	var in CreateFunctionInput
	if err := readJSON(r, maxCodeRequest, "CreateFunction", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.CreateFunction(r.Context(), account(r), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *apiHandler) listFunctions(w http.ResponseWriter, r *http.Request) {
	list := h.s.ListFunctions
	if r.URL.Query().Get("FunctionVersion") == "ALL" {
		list = h.s.ListFunctionsAllVersions
	}
	out, err := list(r.Context(), account(r), r.URL.Query().Get("Marker"), maxItems(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) getFunction(w http.ResponseWriter, r *http.Request) {
	acct := account(r)
	out, err := h.s.GetFunction(r.Context(), acct, r.PathValue("name"), qualifier(r), func(sha string) string {
		return h.codeURL(r, acct, sha)
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// codeURL is a download link for one package, good for ten minutes, like
// the presigned S3 URL Lambda returns.
func (h *apiHandler) codeURL(r *http.Request, acct, sha string) string {
	exp := strconv.FormatInt(time.Now().Add(10*time.Minute).Unix(), 10)
	q := url.Values{"account": {acct}, "expires": {exp}, "signature": {h.codeSig(acct, sha, exp)}}
	return "http://" + r.Host + "/_lambdalab/code/" + url.PathEscape(sha) + "?" + q.Encode()
}

func (h *apiHandler) codeSig(acct, sha, exp string) string {
	m := hmac.New(sha256.New, h.codeKey)
	fmt.Fprintf(m, "%s\x00%s\x00%s", acct, sha, exp)
	return hex.EncodeToString(m.Sum(nil))
}

func (h *apiHandler) downloadCode(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sha, acct, exp := r.PathValue("sha"), q.Get("account"), q.Get("expires")
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() > t || !hmac.Equal([]byte(q.Get("signature")), []byte(h.codeSig(acct, sha, exp))) {
		http.Error(w, "this download link is invalid or has expired; call GetFunction again", http.StatusForbidden)
		return
	}
	f, err := h.s.OpenCode(r.Context(), sha)
	if err != nil {
		http.Error(w, "package not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/zip")
	http.ServeContent(w, r, "code.zip", time.Time{}, f)
}

func (h *apiHandler) deleteFunction(w http.ResponseWriter, r *http.Request) {
	if err := h.s.DeleteFunction(r.Context(), account(r), r.PathValue("name"), qualifier(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *apiHandler) getFunctionConfiguration(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.GetFunctionConfiguration(r.Context(), account(r), r.PathValue("name"), qualifier(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request) {
	var in ConfigInput
	if err := readJSON(r, maxConfigRequest, "UpdateFunctionConfiguration", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.UpdateFunctionConfiguration(r.Context(), account(r), r.PathValue("name"), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) updateFunctionCode(w http.ResponseWriter, r *http.Request) {
	var in UpdateCodeInput
	if err := readJSON(r, maxCodeRequest, "UpdateFunctionCode", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.UpdateFunctionCode(r.Context(), account(r), r.PathValue("name"), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) invoke(w http.ResponseWriter, r *http.Request) {
	payload, err := io.ReadAll(io.LimitReader(r.Body, maxInvokeRequest+1))
	if err != nil {
		h.fail(w, r, fmt.Errorf("read invoke payload: %w", err))
		return
	}
	in := InvokeInput{FunctionName: r.PathValue("name"), Qualifier: qualifier(r),
		InvocationType: r.Header.Get("X-Amz-Invocation-Type"), LogType: r.Header.Get("X-Amz-Log-Type"),
		ClientContext: r.Header.Get("X-Amz-Client-Context"), Payload: payload, TraceID: r.Header.Get("X-Amzn-Trace-Id")}
	out, err := h.s.Invoke(r.Context(), account(r), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hd := w.Header()
	if out.RequestID != "" {
		hd.Set("X-Amzn-Requestid", out.RequestID)
	}
	switch out.StatusCode {
	case http.StatusOK:
		hd.Set("X-Amz-Executed-Version", out.ExecutedVersion)
		if out.FunctionError != "" {
			hd.Set("X-Amz-Function-Error", out.FunctionError)
		}
		if out.LogResult != "" {
			hd.Set("X-Amz-Log-Result", out.LogResult)
		}
		hd.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(out.Payload)
	case http.StatusNoContent:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(out.StatusCode)
	}
}

func (h *apiHandler) publishVersion(w http.ResponseWriter, r *http.Request) {
	var in PublishVersionInput
	if err := readJSON(r, maxConfigRequest, "PublishVersion", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.PublishVersion(r.Context(), account(r), r.PathValue("name"), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *apiHandler) listVersions(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.ListVersionsByFunction(r.Context(), account(r), r.PathValue("name"), r.URL.Query().Get("Marker"), maxItems(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) createAlias(w http.ResponseWriter, r *http.Request) {
	var in AliasInput
	if err := readJSON(r, maxConfigRequest, "CreateAlias", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.CreateAlias(r.Context(), account(r), r.PathValue("name"), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (h *apiHandler) listAliases(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.ListAliases(r.Context(), account(r), r.PathValue("name"), r.URL.Query().Get("FunctionVersion"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) getAlias(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.GetAlias(r.Context(), account(r), r.PathValue("name"), r.PathValue("alias"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) updateAlias(w http.ResponseWriter, r *http.Request) {
	var in AliasInput
	if err := readJSON(r, maxConfigRequest, "UpdateAlias", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.UpdateAlias(r.Context(), account(r), r.PathValue("name"), r.PathValue("alias"), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) deleteAlias(w http.ResponseWriter, r *http.Request) {
	if err := h.s.DeleteAlias(r.Context(), account(r), r.PathValue("name"), r.PathValue("alias")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *apiHandler) addPermission(w http.ResponseWriter, r *http.Request) {
	var in AddPermissionInput
	if err := readJSON(r, maxConfigRequest, "AddPermission", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	st, err := h.s.AddPermission(r.Context(), account(r), r.PathValue("name"), qualifier(r), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"Statement": st})
}

func (h *apiHandler) getPolicy(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.GetPolicy(r.Context(), account(r), r.PathValue("name"), qualifier(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) removePermission(w http.ResponseWriter, r *http.Request) {
	if err := h.s.RemovePermission(r.Context(), account(r), r.PathValue("name"), qualifier(r), r.PathValue("sid")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *apiHandler) putConcurrency(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions"`
	}
	if err := readJSON(r, maxConfigRequest, "PutFunctionConcurrency", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	if in.ReservedConcurrentExecutions == nil {
		h.fail(w, r, invalid("1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must not be null"))
		return
	}
	out, err := h.s.PutFunctionConcurrency(r.Context(), account(r), r.PathValue("name"), *in.ReservedConcurrentExecutions)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) getConcurrency(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.GetFunctionConcurrency(r.Context(), account(r), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) deleteConcurrency(w http.ResponseWriter, r *http.Request) {
	if err := h.s.DeleteFunctionConcurrency(r.Context(), account(r), r.PathValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *apiHandler) putProvisioned(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ProvisionedConcurrentExecutions int `json:"ProvisionedConcurrentExecutions"`
	}
	if err := readJSON(r, maxConfigRequest, "PutProvisionedConcurrencyConfig", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.PutProvisionedConcurrencyConfig(r.Context(), account(r), r.PathValue("name"), qualifier(r), in.ProvisionedConcurrentExecutions)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, out)
}

func (h *apiHandler) getProvisioned(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("List") == "ALL" {
		out, err := h.s.ListProvisionedConcurrencyConfigs(r.Context(), account(r), r.PathValue("name"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	out, err := h.s.GetProvisionedConcurrencyConfig(r.Context(), account(r), r.PathValue("name"), qualifier(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out.FunctionArn = ""
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) deleteProvisioned(w http.ResponseWriter, r *http.Request) {
	if err := h.s.DeleteProvisionedConcurrencyConfig(r.Context(), account(r), r.PathValue("name"), qualifier(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *apiHandler) accountSettings(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.GetAccountSettings(r.Context(), account(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) eventInvokeConfig(w http.ResponseWriter, r *http.Request, merge bool, op string) {
	var in EventInvokeConfigInput
	if err := readJSON(r, maxConfigRequest, op, &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.PutFunctionEventInvokeConfig(r.Context(), account(r), r.PathValue("name"), qualifier(r), in, merge)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) putEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	h.eventInvokeConfig(w, r, false, "PutFunctionEventInvokeConfig")
}

func (h *apiHandler) updateEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	h.eventInvokeConfig(w, r, true, "UpdateFunctionEventInvokeConfig")
}

func (h *apiHandler) getEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.GetFunctionEventInvokeConfig(r.Context(), account(r), r.PathValue("name"), qualifier(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) deleteEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	if err := h.s.DeleteFunctionEventInvokeConfig(r.Context(), account(r), r.PathValue("name"), qualifier(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *apiHandler) listEventInvokeConfigs(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.ListFunctionEventInvokeConfigs(r.Context(), account(r), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) putRecursionConfig(w http.ResponseWriter, r *http.Request) {
	var in RecursionConfig
	if err := readJSON(r, maxConfigRequest, "PutFunctionRecursionConfig", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.PutFunctionRecursionConfig(r.Context(), account(r), r.PathValue("name"), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) getRecursionConfig(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.GetFunctionRecursionConfig(r.Context(), account(r), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) publishLayerVersion(w http.ResponseWriter, r *http.Request) {
	var in PublishLayerInput
	if err := readJSON(r, maxCodeRequest, "PublishLayerVersion", &in); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.PublishLayerVersion(r.Context(), account(r), r.PathValue("layer"), in)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out.Content.Location = h.codeURL(r, account(r), out.Content.CodeSha256)
	writeJSON(w, http.StatusCreated, out)
}

func layerVersionParam(r *http.Request) (int, error) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		return 0, invalid("1 validation error detected: Value '%s' at 'versionNumber' failed to satisfy constraint: Member must be a positive number", r.PathValue("version"))
	}
	return v, nil
}

func (h *apiHandler) getLayerVersion(w http.ResponseWriter, r *http.Request) {
	v, err := layerVersionParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.GetLayerVersion(r.Context(), account(r), r.PathValue("layer"), v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out.Content.Location = h.codeURL(r, account(r), out.Content.CodeSha256)
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) deleteLayerVersion(w http.ResponseWriter, r *http.Request) {
	v, err := layerVersionParam(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.s.DeleteLayerVersion(r.Context(), account(r), r.PathValue("layer"), v); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *apiHandler) listLayerVersions(w http.ResponseWriter, r *http.Request) {
	out, err := h.s.ListLayerVersions(r.Context(), account(r), r.PathValue("layer"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *apiHandler) listLayers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("find") == "LayerVersion" {
		out, err := h.s.GetLayerVersionByArn(r.Context(), account(r), q.Get("Arn"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		out.Content.Location = h.codeURL(r, account(r), out.Content.CodeSha256)
		writeJSON(w, http.StatusOK, out)
		return
	}
	out, err := h.s.ListLayers(r.Context(), account(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
