package web

// The Versions tab (WORKSPACE.md): publish $LATEST as a version, list the
// versions with their code, create, move, split and delete aliases, and see
// which version ran each recent invocation, which is how a learner watches
// a weighted alias split its traffic (labs/versions-aliases).

import (
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"lambdalab/cloud/lambda"
	"lambdalab/store"
	"lambdalab/web/ui"
)

func (s *Server) versionRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /labs/{lab}/versions/publish", s.publishVersion)
	mux.HandleFunc("POST /labs/{lab}/aliases", s.createAlias)
	mux.HandleFunc("POST /labs/{lab}/aliases/{alias}", s.updateAlias)
	mux.HandleFunc("POST /labs/{lab}/aliases/{alias}/delete", s.deleteAlias)
}

// publishVersion publishes $LATEST with the form's description and the
// RevisionId the page was made with. Lambda publishes nothing when neither
// code nor configuration changed since the newest version, and answers with
// that version: the flash says so.
func (s *Server) publishVersion(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	before, err := s.cfgAllVersions(r.Context(), lc.Account, lc.Fn.Name)
	if err != nil {
		if _, ok := refusal(err); ok {
			s.cfgLambdaRefused(w, r, lc, "versions", err)
			return
		}
		s.serverError(w, r, err)
		return
	}
	v, err := s.cloud.Lambda.PublishVersion(r.Context(), lc.Account, lc.Fn.Name, lambda.PublishVersionInput{
		Description: r.PostFormValue("description"), RevisionID: r.PostFormValue("revision")})
	if err != nil {
		s.cfgLambdaRefused(w, r, lc, "versions", err)
		return
	}
	existed := slices.ContainsFunc(before, func(c lambda.FunctionConfiguration) bool { return c.Version == v.Version })
	if existed {
		s.actionDone(w, r, lc, "versions", fmt.Sprintf("Nothing changed since version %s, so Lambda published no new version and answered with version %s again. Deploy new code or change the configuration first.", v.Version, v.Version))
		return
	}
	s.actionDone(w, r, lc, "versions", fmt.Sprintf("Published version %s of %s (CodeSha256 %s).", v.Version, lc.Fn.Name, verShortSha(v.CodeSha256)))
}

// verAliasInput is an alias form as Lambda takes it. The share of the second
// version is typed in percent and sent as Lambda's fraction; a second
// version without a share, or a share without a version, is refused here,
// since Lambda would not know what was meant. The share's range is
// Lambda's to judge.
func verAliasInput(r *http.Request) (lambda.AliasInput, string) {
	version, second := r.PostFormValue("version"), r.PostFormValue("second")
	weight := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(r.PostFormValue("weight")), "%"))
	description := r.PostFormValue("description")
	in := lambda.AliasInput{Name: strings.TrimSpace(r.PostFormValue("name")), FunctionVersion: &version,
		Description: &description, RevisionID: r.PostFormValue("revision"),
		RoutingConfig: &lambda.RoutingConfig{AdditionalVersionWeights: map[string]float64{}}}
	switch {
	case second == "" && weight != "" && weight != "0":
		return in, "Choose the second version that share is for, or leave the share empty."
	case second == "":
		return in, ""
	case weight == "":
		return in, "Give version " + second + "'s share of the invocations, in percent (for example 10)."
	}
	pct, err := strconv.ParseFloat(weight, 64)
	if err != nil || math.IsNaN(pct) || math.IsInf(pct, 0) {
		return in, fmt.Sprintf("The share must be a number of percent, such as 10; %q is not one.", weight)
	}
	in.RoutingConfig.AdditionalVersionWeights[second] = pct / 100
	return in, ""
}

func (s *Server) createAlias(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	in, msg := verAliasInput(r)
	if msg != "" {
		s.actionRefused(w, r, lc, "versions", http.StatusUnprocessableEntity, msg)
		return
	}
	in.RevisionID = ""
	a, err := s.cloud.Lambda.CreateAlias(r.Context(), lc.Account, lc.Fn.Name, in)
	if err != nil {
		s.cfgLambdaRefused(w, r, lc, "versions", err)
		return
	}
	s.actionDone(w, r, lc, "versions", "Created the alias "+verAliasWords(a)+".")
}

// updateAlias moves an alias of the function, or changes its split, with
// the RevisionId the alias had when the page was made. The alias is looked
// up in the learner's own account only.
func (s *Server) updateAlias(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	name := r.PathValue("alias")
	in, msg := verAliasInput(r)
	if msg != "" {
		s.actionRefused(w, r, lc, "versions", http.StatusUnprocessableEntity, msg)
		return
	}
	in.Name = ""
	a, err := s.cloud.Lambda.UpdateAlias(r.Context(), lc.Account, lc.Fn.Name, name, in)
	if err != nil {
		s.cfgLambdaRefused(w, r, lc, "versions", err)
		return
	}
	s.actionDone(w, r, lc, "versions", "Saved: "+verAliasWords(a)+".")
}

// deleteAlias removes an alias. Lambda answers an absent alias with
// success; the panel checks first, so that a name that is not the
// learner's alias is a 404 rather than a silent no-op.
func (s *Server) deleteAlias(w http.ResponseWriter, r *http.Request) {
	lc, ok := s.cfgStart(w, r)
	if !ok {
		return
	}
	name := r.PathValue("alias")
	if _, err := s.cloud.Lambda.GetAlias(r.Context(), lc.Account, lc.Fn.Name, name); err != nil {
		if cfgNotFound(err) {
			s.notFoundPage(w, r)
			return
		}
		s.cfgLambdaRefused(w, r, lc, "versions", err)
		return
	}
	if err := s.cloud.Lambda.DeleteAlias(r.Context(), lc.Account, lc.Fn.Name, name); err != nil {
		s.cfgLambdaRefused(w, r, lc, "versions", err)
		return
	}
	s.actionDone(w, r, lc, "versions", "Deleted the alias "+name+".")
}

// verAliasWords is an alias's routing in words: "prod → version 1, and
// 10 % of its invocations to version 2".
func verAliasWords(a lambda.AliasConfiguration) string {
	w := a.Name + " → version " + a.FunctionVersion
	if a.RoutingConfig != nil {
		for v, weight := range a.RoutingConfig.AdditionalVersionWeights {
			w += ", and " + verPercent(weight) + " of its invocations to version " + v
		}
	}
	return w
}

// verPercent is a fraction in percent, without float noise: 0.1 → "10 %".
func verPercent(f float64) string {
	return strconv.FormatFloat(math.Round(f*100*1000)/1000, 'f', -1, 64) + " %"
}

// verShortSha is the start of a CodeSha256, enough to tell versions apart.
func verShortSha(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "…"
	}
	return sha
}

// verServedWindow and verServedCount bound "which version ran": the last
// verServedCount invocations of the last day. 200 is the versions lab's
// canary run.
const (
	verServedWindow = 24 * time.Hour
	verServedCount  = 200
	verRecentRows   = 15
)

func (s *Server) versionsPanel(r *http.Request, lc *labCtx, st panelState) (templ.Component, error) {
	ctx := r.Context()
	v := ui.VersionsView{Lab: lc.Lab.ID, Function: lc.fnName(), Flash: st.Flash, Err: st.Err}
	if st.Err != "" {
		v.ErrForm = st.Form.Get("form")
	}
	if lc.Fn == nil {
		v.Missing = "This lab has no functions."
		return ui.VersionsPanel(v), nil
	}
	name := lc.Fn.Name
	all, err := s.cfgAllVersions(ctx, lc.Account, name)
	if err != nil {
		if cfgNotFound(err) {
			v.Missing = name + " is not in your account yet. Deploy it from the Code tab (or create it with the AWS CLI), then publish versions here."
			return ui.VersionsPanel(v), nil
		}
		return nil, err
	}
	as, err := s.cloud.Lambda.ListAliases(ctx, lc.Account, name, "")
	if err != nil {
		return nil, fmt.Errorf("aliases of %s: %w", name, err)
	}
	refill := func(form string) url.Values {
		if v.ErrForm == form {
			return st.Form
		}
		return nil
	}
	v.Primary = []ui.Choice{{Value: "$LATEST", Label: "$LATEST"}}
	for _, c := range all {
		if c.Version == "$LATEST" {
			v.Revision, v.LatestSha, v.LatestAge = c.RevisionID, c.CodeSha256, c.LastModified
			continue
		}
		label := "version " + c.Version
		if c.Description != "" {
			label += ": " + c.Description
		}
		v.Primary = append(v.Primary, ui.Choice{Value: c.Version, Label: label})
		v.Second = append(v.Second, ui.Choice{Value: c.Version, Label: label})
		v.Versions = append(v.Versions, ui.VersionRow{Version: c.Version, ShortSha: verShortSha(c.CodeSha256), Sha: c.CodeSha256,
			Description: c.Description, Memory: strconv.Itoa(c.MemorySize) + " MB", Modified: c.LastModified,
			Aliases: verAliasesOf(as.Aliases, c.Version)})
	}
	slices.Reverse(v.Versions)
	v.Description = cfgValue(refill("publish"), "description", "")
	for _, a := range as.Aliases {
		f := verAliasForm(a)
		if form := refill("alias:" + a.Name); form != nil {
			f = verRefilled(form, a.Name, a.RevisionID, st.Err)
		}
		v.Aliases = append(v.Aliases, ui.AliasRow{Name: a.Name, Arn: a.AliasArn, Words: verAliasWords(a), Form: f})
	}
	v.NewAlias = ui.AliasForm{Version: "$LATEST"}
	if len(v.Versions) > 0 {
		v.NewAlias.Version = v.Versions[0].Version
	}
	if form := refill("alias-new"); form != nil {
		v.NewAlias = verRefilled(form, form.Get("name"), "", st.Err)
	}
	invs, err := s.db.Invocations(ctx, lc.Account, name, time.Now().Add(-verServedWindow))
	if err != nil {
		return nil, fmt.Errorf("invocations of %s: %w", name, err)
	}
	v.Served, v.Recent, v.ServedOf = verServed(invs)
	v.RefreshURL = labURL(lc.Lab.ID, "versions", name)
	return ui.VersionsPanel(v), nil
}

// verAliasesOf names the aliases that send version traffic.
func verAliasesOf(as []lambda.AliasConfiguration, version string) string {
	var names []string
	for _, a := range as {
		switch {
		case a.FunctionVersion == version:
			names = append(names, a.Name)
		case a.RoutingConfig != nil:
			if w, ok := a.RoutingConfig.AdditionalVersionWeights[version]; ok {
				names = append(names, a.Name+" ("+verPercent(w)+")")
			}
		}
	}
	return strings.Join(names, ", ")
}

// verAliasForm is the edit form of an alias as it is.
func verAliasForm(a lambda.AliasConfiguration) ui.AliasForm {
	f := ui.AliasForm{Name: a.Name, Version: a.FunctionVersion, Description: a.Description, Revision: a.RevisionID}
	if a.RoutingConfig != nil {
		for v, w := range a.RoutingConfig.AdditionalVersionWeights {
			f.Second, f.Weight = v, strings.TrimSuffix(verPercent(w), " %")
		}
	}
	return f
}

// verRefilled is an alias form as the learner sent it, with why it was
// refused. It carries the alias's current revision, as the other forms
// carry $LATEST's: the page now shows the alias as it is, beside the
// refusal, so sending the form again is a choice made knowing it.
func verRefilled(form url.Values, name, revision, err string) ui.AliasForm {
	return ui.AliasForm{Name: name, Version: form.Get("version"), Second: form.Get("second"), Weight: form.Get("weight"),
		Description: form.Get("description"), Revision: revision, Err: err}
}

// verServed counts which version ran each of the last verServedCount
// invocations (oldest first in invs), and the newest few for the table.
func verServed(invs []store.Invocation) ([]ui.ServedCount, []ui.InvocationRow, int) {
	if len(invs) > verServedCount {
		invs = invs[len(invs)-verServedCount:]
	}
	counts := map[string]int{}
	for _, inv := range invs {
		counts[verVersion(inv)]++
	}
	var served []ui.ServedCount
	for _, ver := range slices.SortedFunc(maps.Keys(counts), verCompare) {
		share := float64(counts[ver]) / float64(len(invs))
		served = append(served, ui.ServedCount{Version: ver, Count: counts[ver], Share: verPercent(share), Percent: int(math.Round(share * 100))})
	}
	var recent []ui.InvocationRow
	for i := len(invs) - 1; i >= 0 && len(recent) < verRecentRows; i-- {
		inv := invs[i]
		recent = append(recent, ui.InvocationRow{When: inv.Start.Local().Format("15:04:05"), Version: verVersion(inv),
			Outcome: inv.Outcome, Duration: strconv.FormatFloat(inv.DurationMS, 'f', 1, 64) + " ms",
			Cold: inv.Cold, Failed: inv.Outcome != "success"})
	}
	return served, recent, len(invs)
}

func verVersion(inv store.Invocation) string {
	if inv.Version == "" {
		return "$LATEST"
	}
	return inv.Version
}

// verCompare orders versions as Lambda lists them: $LATEST, then by number.
func verCompare(a, b string) int {
	na, ea := strconv.Atoi(a)
	nb, eb := strconv.Atoi(b)
	switch {
	case ea != nil && eb != nil:
		return strings.Compare(a, b)
	case ea != nil:
		return -1
	case eb != nil:
		return 1
	}
	return na - nb
}
