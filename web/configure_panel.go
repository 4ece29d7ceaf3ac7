package web

// The Configuration panel: the chosen function's state read from Lambda and
// put in words for ui.ConfigPanel. A refused form (panelState.Form) is
// shown with the learner's values instead of the function's.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"lambdalab/cloud/lambda"
	"lambdalab/sandbox"
	"lambdalab/web/ui"
)

func (s *Server) configPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	ctx := r.Context()
	v := ui.ConfigView{Lab: lc.Lab.ID, Function: lc.fnName(), Flash: st.Flash, Err: st.Err}
	if st.Err != "" {
		v.ErrForm = st.Form.Get("form")
	}
	if lc.Fn == nil {
		v.Missing = "This lab has no functions to configure."
		return ui.ConfigPanel(v), nil
	}
	name := lc.Fn.Name
	svc := s.cloud.Lambda
	cfg, err := svc.GetFunctionConfiguration(ctx, lc.Account, name, "")
	if err != nil {
		if cfgNotFound(err) {
			v.Missing = name + " is not in your account yet. Deploy it from the Code tab (or create it with the AWS CLI), then configure it here."
			return ui.ConfigPanel(v), nil
		}
		return nil, fmt.Errorf("configuration of %s: %w", name, err)
	}
	v.Arn, v.Revision = cfg.FunctionArn, cfg.RevisionID
	// refill is the refused form's values when form is the one refused.
	refill := func(form string) url.Values {
		if v.ErrForm == form {
			return st.Form
		}
		return nil
	}
	quals, err := s.cfgQualifiers(ctx, lc.Account, name)
	if err != nil {
		return nil, err
	}
	v.General = cfgGeneralView(cfg, refill("general"))
	v.Env = cfgEnvRows(cfg, refill("env"))
	if v.Layers, err = s.cfgLayersView(ctx, lc.Account, cfg, st.Form, v.ErrForm); err != nil {
		return nil, err
	}
	if v.Concurrency, err = s.cfgConcurrencyView(ctx, lc, quals, refill("reserved"), refill("provisioned")); err != nil {
		return nil, err
	}
	if v.Permissions, err = s.cfgPermissionsView(ctx, lc.Account, name, quals, refill("permission")); err != nil {
		return nil, err
	}
	if v.Async, err = s.cfgAsyncView(ctx, lc.Account, name, quals, refill("async")); err != nil {
		return nil, err
	}
	return ui.ConfigPanel(v), nil
}

// cfgNotFound reports whether err is Lambda saying the function (or the
// thing asked about) does not exist.
func cfgNotFound(err error) bool {
	le, ok := lambda.AsError(err)
	return ok && le.Status == http.StatusNotFound
}

// cfgValue is the refused form's value of key, or the current one.
func cfgValue(form url.Values, key, current string) string {
	if form != nil {
		return form.Get(key)
	}
	return current
}

// cfgQuals are a function's published versions (oldest first) and aliases,
// the targets of qualified settings.
type cfgQuals struct {
	versions []lambda.FunctionConfiguration
	aliases  []lambda.AliasConfiguration
}

func (s *Server) cfgQualifiers(ctx context.Context, account, name string) (cfgQuals, error) {
	var q cfgQuals
	vs, err := s.cfgAllVersions(ctx, account, name)
	if err != nil {
		return q, err
	}
	for _, v := range vs {
		if v.Version != "$LATEST" {
			q.versions = append(q.versions, v)
		}
	}
	as, err := s.cloud.Lambda.ListAliases(ctx, account, name, "")
	if err != nil {
		return q, fmt.Errorf("aliases of %s: %w", name, err)
	}
	q.aliases = as.Aliases
	return q, nil
}

// cfgAllVersions pages through ListVersionsByFunction: $LATEST, then each
// published version in order.
func (s *Server) cfgAllVersions(ctx context.Context, account, name string) ([]lambda.FunctionConfiguration, error) {
	var out []lambda.FunctionConfiguration
	marker := ""
	// A lab publishes a handful of versions; 40 pages of 50 is far more
	// than a learner makes, and bounds a page's work.
	for range 40 {
		page, err := s.cloud.Lambda.ListVersionsByFunction(ctx, account, name, marker, 50)
		if err != nil {
			return nil, fmt.Errorf("versions of %s: %w", name, err)
		}
		out = append(out, page.Versions...)
		if page.NextMarker == "" {
			break
		}
		marker = page.NextMarker
	}
	return out, nil
}

// choices lists the aliases and versions as select options, after first
// (the unqualified option, if any).
func (q cfgQuals) choices(first []ui.Choice) []ui.Choice {
	out := first
	for _, a := range q.aliases {
		out = append(out, ui.Choice{Value: a.Name, Label: "alias " + a.Name + " (version " + a.FunctionVersion + ")"})
	}
	for _, v := range q.versions {
		out = append(out, ui.Choice{Value: v.Version, Label: "version " + v.Version})
	}
	return out
}

// cfgRuntimes are the runtimes lambdalab runs, and the function's own if it
// is another (so the form does not change it by accident).
func cfgRuntimes(current string) []string {
	rts := []string{sandbox.RuntimePython313, sandbox.RuntimeNodejs20, sandbox.RuntimeProvided}
	if current != "" && !slices.Contains(rts, current) {
		rts = append([]string{current}, rts...)
	}
	return rts
}

func cfgGeneralView(cfg lambda.FunctionConfiguration, form url.Values) ui.ConfigGeneral {
	g := ui.ConfigGeneral{
		Runtime:     cfgValue(form, "runtime", cfg.Runtime),
		Handler:     cfgValue(form, "handler", cfg.Handler),
		Memory:      cfgValue(form, "memory", strconv.Itoa(cfg.MemorySize)),
		Timeout:     cfgValue(form, "timeout", strconv.Itoa(cfg.Timeout)),
		Ephemeral:   cfgValue(form, "ephemeral", strconv.Itoa(cfg.EphemeralStorage.Size)),
		Tracing:     cfgValue(form, "tracing", cfg.TracingConfig.Mode),
		Description: cfgValue(form, "description", cfg.Description),
		Runtimes:    cfgRuntimes(cfg.Runtime),
		CPU:         cfgCPU(cfg.MemorySize),
	}
	arch := strings.Join(cfg.Architectures, ", ")
	g.Facts = []ui.Fact{
		{Label: "Runtime", Value: cfg.Runtime},
		{Label: "Handler", Value: cfg.Handler},
		{Label: "Memory", Value: strconv.Itoa(cfg.MemorySize) + " MB"},
		{Label: "Timeout", Value: cfgSeconds(cfg.Timeout)},
		{Label: "Ephemeral storage (/tmp)", Value: strconv.Itoa(cfg.EphemeralStorage.Size) + " MB"},
		{Label: "Tracing", Value: cfgTracing(cfg.TracingConfig.Mode)},
		{Label: "Architecture", Value: arch},
		{Label: "Package", Value: cfgSize(cfg.CodeSize) + ", CodeSha256 " + cfg.CodeSha256},
		{Label: "Last modified", Value: cfg.LastModified},
	}
	return g
}

// cfgCPU says what share of a CPU a memory size buys: Lambda gives CPU in
// proportion to memory, one full vCPU at 1,769 MB (reference/lambda-
// behaviour.md §0).
func cfgCPU(mb int) string {
	share := float64(mb) / sandbox.MBPerVCPU
	var buys string
	if share < 1 {
		buys = fmt.Sprintf("about %.0f%% of one vCPU", share*100)
	} else {
		buys = fmt.Sprintf("about %.1f vCPUs", share)
	}
	return fmt.Sprintf("%d MB buys %s: Lambda gives CPU in proportion to memory, a full vCPU at 1,769 MB (up to 6 at 10,240 MB).", mb, buys)
}

func cfgSeconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

func cfgTracing(mode string) string {
	if mode == "Active" {
		return "Active: Lambda samples requests and records a trace of each one it samples"
	}
	return mode + ": Lambda records no trace of its own"
}

// cfgSize is a byte count for people: 812 bytes, 4.2 KB, 1.3 MB.
func cfgSize(n int64) string {
	switch {
	case n < 1024:
		return cfgPlural(int(n), "byte")
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// cfgBlankEnvRows is how many empty rows the environment form offers for
// new variables (without JavaScript a form cannot grow).
const cfgBlankEnvRows = 3

func cfgEnvRows(cfg lambda.FunctionConfiguration, form url.Values) []ui.EnvRow {
	var rows []ui.EnvRow
	if form != nil {
		keys, values := form["env_key"], form["env_value"]
		removed := map[string]bool{}
		for _, i := range form["env_remove"] {
			removed[i] = true
		}
		for i := range keys {
			val := ""
			if i < len(values) {
				val = values[i]
			}
			rows = append(rows, ui.EnvRow{Index: i, Key: keys[i], Value: val, Remove: removed[strconv.Itoa(i)]})
		}
		return rows
	}
	var vars map[string]string
	if cfg.Environment != nil {
		vars = cfg.Environment.Variables
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		rows = append(rows, ui.EnvRow{Index: i, Key: k, Value: vars[k]})
	}
	for i := 0; i < cfgBlankEnvRows; i++ {
		rows = append(rows, ui.EnvRow{Index: len(keys) + i})
	}
	return rows
}

func (s *Server) cfgLayersView(ctx context.Context, account string, cfg lambda.FunctionConfiguration, form url.Values, refused string) (ui.ConfigLayers, error) {
	v := ui.ConfigLayers{Max: sandbox.MaxLayers, XRayName: xrayLayerName, XRayReady: s.xrayLayerPath() != "",
		UploadRuntimes: cfg.Runtime}
	attached := map[string]bool{}
	for _, l := range cfg.Layers {
		name, version := cfgLayerParts(l.Arn)
		v.Attached = append(v.Attached, ui.AttachedLayer{Arn: l.Arn, Name: name, Version: version, Size: cfgSize(l.CodeSize)})
		attached[l.Arn] = true
		if name == xrayLayerName {
			v.XRayAttached = true
		}
	}
	layers, err := s.cloud.Lambda.ListLayers(ctx, account)
	if err != nil {
		return v, fmt.Errorf("layers: %w", err)
	}
	for _, l := range layers.Layers {
		vs, err := s.cloud.Lambda.ListLayerVersions(ctx, account, l.LayerName)
		if err != nil {
			return v, fmt.Errorf("versions of layer %s: %w", l.LayerName, err)
		}
		// The newest few are what one attaches; older ones stay reachable
		// by ARN.
		for _, lv := range vs.LayerVersions[:min(len(vs.LayerVersions), 10)] {
			if attached[lv.LayerVersionArn] {
				continue
			}
			label := l.LayerName + " version " + strconv.FormatInt(lv.Version, 10)
			if lv.Description != "" {
				label += ": " + lv.Description
			}
			if len(lv.CompatibleRuntimes) > 0 {
				label += " (" + strings.Join(lv.CompatibleRuntimes, ", ") + ")"
			}
			v.Options = append(v.Options, ui.Choice{Value: lv.LayerVersionArn, Label: label})
		}
	}
	switch refused {
	case "layer-attach":
		v.Choose, v.ARN = form.Get("attach"), form.Get("arn")
	case "layer-upload":
		v.UploadName, v.UploadDescription, v.UploadRuntimes = form.Get("name"), form.Get("description"), form.Get("runtimes")
	}
	return v, nil
}

func (s *Server) cfgConcurrencyView(ctx context.Context, lc *labCtx, q cfgQuals, reserveForm, provForm url.Values) (ui.ConfigConcurrency, error) {
	name := lc.Fn.Name
	var v ui.ConfigConcurrency
	c, err := s.cloud.Lambda.GetFunctionConcurrency(ctx, lc.Account, name)
	if err != nil {
		return v, fmt.Errorf("concurrency of %s: %w", name, err)
	}
	acct, err := s.cloud.Lambda.GetAccountSettings(ctx, lc.Account)
	if err != nil {
		return v, fmt.Errorf("account settings: %w", err)
	}
	current := ""
	switch n := c.ReservedConcurrentExecutions; {
	case n == nil:
		v.Reserved = "none: " + name + " shares the account's unreserved concurrency with every function that has no reservation"
	case *n == 0:
		v.Reserved, v.HasReservation, current = "0: every invocation of "+name+" is throttled", true, "0"
	default:
		v.Reserved = fmt.Sprintf("%d: at most %d invocations of %s run at once (all its versions together), and %d are kept for it alone", *n, *n, name, *n)
		v.HasReservation, current = true, strconv.Itoa(*n)
	}
	limit, free := acct.AccountLimit.ConcurrentExecutions, acct.AccountLimit.UnreservedConcurrentExecutions
	v.Account = fmt.Sprintf("runs at most %d invocations at once; %d of them are unreserved, shared by the functions without a reservation", limit, free)
	v.Value = cfgValue(reserveForm, "reserved", current)

	ps, err := s.cloud.Lambda.ListProvisionedConcurrencyConfigs(ctx, lc.Account, name)
	if err != nil {
		return v, fmt.Errorf("provisioned concurrency of %s: %w", name, err)
	}
	for _, p := range ps.ProvisionedConcurrencyConfigs {
		qual := p.FunctionArn[strings.LastIndexByte(p.FunctionArn, ':')+1:]
		row := ui.ProvisionedRow{Qualifier: qual, Status: p.Status}
		switch p.Status {
		case "READY":
			row.Words = fmt.Sprintf("%s:%s: %d of %d instances up (READY): kept warm, so its requests skip the cold start", name, qual,
				p.AllocatedProvisionedConcurrentExecutions, p.RequestedProvisionedConcurrentExecutions)
		case "FAILED":
			row.Words = fmt.Sprintf("%s:%s: %d requested (FAILED): %s", name, qual, p.RequestedProvisionedConcurrentExecutions, p.StatusReason)
		default:
			v.Pending = true
			row.Words = fmt.Sprintf("%s:%s: %d of %d instances up (%s): starting", name, qual,
				p.AllocatedProvisionedConcurrentExecutions, p.RequestedProvisionedConcurrentExecutions, p.Status)
		}
		v.Provisioned = append(v.Provisioned, row)
	}
	v.Targets = q.choices(nil)
	v.ProvQualifier, v.ProvCount = cfgValue(provForm, "qualifier", ""), cfgValue(provForm, "count", "1")
	v.RefreshURL = labURL(lc.Lab.ID, "config", name)
	return v, nil
}

func (s *Server) cfgPermissionsView(ctx context.Context, account, name string, q cfgQuals, form url.Values) (ui.ConfigPermissions, error) {
	v := ui.ConfigPermissions{Targets: q.choices([]ui.Choice{{Value: "", Label: name + " itself (unqualified)"}})}
	targets := []string{""}
	for _, a := range q.aliases {
		targets = append(targets, a.Name)
	}
	for _, ver := range q.versions {
		targets = append(targets, ver.Version)
	}
	for _, t := range targets {
		p, err := s.cloud.Lambda.GetPolicy(ctx, account, name, t)
		if cfgNotFound(err) {
			continue // no statements
		}
		if err != nil {
			return v, fmt.Errorf("policy of %s: %w", cfgQualified(name, t), err)
		}
		sts, err := cfgPolicyWords(p.Policy, cfgQualified(name, t))
		if err != nil {
			return v, fmt.Errorf("policy of %s: %w", cfgQualified(name, t), err)
		}
		for _, st := range sts {
			st.Qualifier = t
			v.Statements = append(v.Statements, st)
		}
	}
	v.Qualifier = cfgValue(form, "qualifier", "")
	v.Sid = cfgValue(form, "sid", "")
	v.Principal = cfgValue(form, "principal", "s3.amazonaws.com")
	v.SourceArn = cfgValue(form, "source_arn", "")
	v.SourceAccount = cfgValue(form, "source_account", account)
	v.Action = cfgValue(form, "action", "lambda:InvokeFunction")
	return v, nil
}

// cfgStatement is one statement of a resource policy as GetPolicy
// writes it.
type cfgStatement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Principal any                          `json:"Principal"`
	Action    any                          `json:"Action"`
	Condition map[string]map[string]string `json:"Condition"`
}

// cfgPolicyWords puts each statement of a policy document in words, target
// being what the policy is on ("word-count:prod"):
// "s3.amazonaws.com may invoke word-count:prod when the source is
// arn:aws:s3:::wc-uploads and the source account is 123456789012".
func cfgPolicyWords(doc, target string) ([]ui.PolicyStatement, error) {
	var p struct {
		Statement []cfgStatement `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, fmt.Errorf("decode policy: %w", err)
	}
	var out []ui.PolicyStatement
	for _, st := range p.Statement {
		out = append(out, ui.PolicyStatement{Sid: st.Sid, Words: cfgStatementWords(st, target)})
	}
	return out, nil
}

func cfgStatementWords(st cfgStatement, target string) string {
	var b strings.Builder
	b.WriteString(cfgPrincipalWords(st.Principal))
	if st.Effect == "Deny" {
		b.WriteString(" may not ")
	} else {
		b.WriteString(" may ")
	}
	b.WriteString(cfgActionWords(st.Action))
	b.WriteString(" " + target)
	var conds []string
	for _, op := range slices.Sorted(maps.Keys(st.Condition)) {
		for _, key := range slices.Sorted(maps.Keys(st.Condition[op])) {
			val := st.Condition[op][key]
			switch strings.ToLower(key) {
			case "aws:sourcearn":
				conds = append(conds, "the source is "+val)
			case "aws:sourceaccount":
				conds = append(conds, "the source account is "+val)
			case "aws:principalorgid":
				conds = append(conds, "the caller is in the organization "+val)
			default:
				conds = append(conds, key+" "+op+" "+val)
			}
		}
	}
	if len(conds) > 0 {
		b.WriteString(" when " + strings.Join(conds, " and "))
	}
	return b.String()
}

func cfgPrincipalWords(p any) string {
	switch p := p.(type) {
	case string:
		if p == "*" {
			return "anyone"
		}
		return p
	case map[string]any:
		if svc, ok := p["Service"].(string); ok {
			return svc
		}
		if aws, ok := p["AWS"].(string); ok {
			if acct, ok := strings.CutPrefix(aws, "arn:aws:iam::"); ok && strings.HasSuffix(acct, ":root") {
				return "the account " + strings.TrimSuffix(acct, ":root")
			}
			if aws == "*" {
				return "anyone"
			}
			return aws
		}
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func cfgActionWords(a any) string {
	act, _ := a.(string)
	switch act {
	case "lambda:InvokeFunction":
		return "invoke"
	case "lambda:*", "*":
		return "call any Lambda action on"
	case "":
		b, _ := json.Marshal(a)
		return "call " + string(b) + " on"
	}
	return "call " + act + " on"
}

func (s *Server) cfgAsyncView(ctx context.Context, account, name string, q cfgQuals, form url.Values) (ui.ConfigAsync, error) {
	v := ui.ConfigAsync{Targets: q.choices([]ui.Choice{{Value: "", Label: "$LATEST (the unqualified function)"}})}
	cs, err := s.cloud.Lambda.ListFunctionEventInvokeConfigs(ctx, account, name)
	if err != nil {
		return v, fmt.Errorf("async configurations of %s: %w", name, err)
	}
	var latest *lambda.EventInvokeConfig
	for i, c := range cs.FunctionEventInvokeConfigs {
		qual := c.FunctionArn[strings.LastIndexByte(c.FunctionArn, ':')+1:]
		if qual == "$LATEST" {
			qual, latest = "", &cs.FunctionEventInvokeConfigs[i]
		}
		v.Configs = append(v.Configs, ui.AsyncRow{Qualifier: qual, Target: cfgAsyncTarget(name, qual), Facts: cfgAsyncFacts(c)})
	}
	cur := func(n *int) string {
		if n == nil {
			return ""
		}
		return strconv.Itoa(*n)
	}
	if latest != nil {
		v.Retries, v.MaxAge = cur(latest.MaximumRetryAttempts), cur(latest.MaximumEventAgeInSeconds)
		v.OnSuccess, v.OnFailure = latest.DestinationConfig.OnSuccess.Destination, latest.DestinationConfig.OnFailure.Destination
	}
	if form != nil {
		v.Qualifier, v.Retries, v.MaxAge = form.Get("qualifier"), form.Get("retries"), form.Get("max_age")
		v.OnSuccess, v.OnFailure = form.Get("on_success"), form.Get("on_failure")
	}
	return v, nil
}

func cfgAsyncFacts(c lambda.EventInvokeConfig) []ui.Fact {
	retries := "2 (Lambda's default)"
	if n := c.MaximumRetryAttempts; n != nil {
		retries = strconv.Itoa(*n)
		if *n == 0 {
			retries = "0: a failed event is not tried again"
		}
	}
	age := "6 hours (Lambda's default)"
	if n := c.MaximumEventAgeInSeconds; n != nil {
		age = cfgAge(*n)
	}
	dest := func(d string) string {
		if d == "" {
			return "nowhere"
		}
		return d
	}
	return []ui.Fact{
		{Label: "Retry attempts", Value: retries},
		{Label: "Maximum event age", Value: age},
		{Label: "On success", Value: dest(c.DestinationConfig.OnSuccess.Destination)},
		{Label: "On failure", Value: dest(c.DestinationConfig.OnFailure.Destination)},
	}
}

// cfgAge is an event age in seconds, with minutes or hours when round.
func cfgAge(secs int) string {
	switch {
	case secs%3600 == 0:
		return fmt.Sprintf("%s (%s)", cfgSeconds(secs), cfgPlural(secs/3600, "hour"))
	case secs%60 == 0:
		return fmt.Sprintf("%s (%s)", cfgSeconds(secs), cfgPlural(secs/60, "minute"))
	}
	return cfgSeconds(secs)
}
