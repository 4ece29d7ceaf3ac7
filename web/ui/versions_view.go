package ui

// The view values of the Versions panel (versions.templ).

// VersionsView is the Versions tab of one function of a lab.
type VersionsView struct {
	Lab, Function string
	// Missing says why there is nothing to show (the function is not in
	// the learner's account yet).
	Missing string
	Flash   string
	// Err is why the form named ErrForm was refused.
	Err, ErrForm string

	// Revision is $LATEST's RevisionId when the page was made: publishing
	// sends it, so that code deployed meanwhile is not published unseen.
	Revision             string
	LatestSha, LatestAge string
	// Description is the publish form's value.
	Description string

	Versions []VersionRow // published versions, newest first
	Aliases  []AliasRow
	NewAlias AliasForm
	// Primary are the versions an alias may point at ($LATEST and every
	// published one); Second those it may send a weighted share to.
	Primary, Second []Choice

	// Served counts the versions that ran the last ServedOf invocations;
	// Recent are the newest of them. RefreshURL reloads the panel.
	Served     []ServedCount
	ServedOf   int
	Recent     []InvocationRow
	RefreshURL string
}

// VersionRow is one published version.
type VersionRow struct {
	Version, ShortSha, Sha, Description, Memory, Modified string
	// Aliases names the aliases that send it traffic, in words.
	Aliases string
}

// AliasRow is one alias: what it routes to, in words, and its edit form.
type AliasRow struct {
	Name, Arn, Words string
	Form             AliasForm
}

// AliasForm is the create or edit form of an alias. Weight is the second
// version's share in percent.
type AliasForm struct {
	Name, Version, Second, Weight, Description, Revision string
	// Err is why this form was refused ("" when it was not).
	Err string
}

// ServedCount is how many of the recent invocations a version ran.
type ServedCount struct {
	Version string
	Count   int
	Share   string // "90 %"
	Percent int    // the share rounded, for a meter
}

// InvocationRow is one recent invocation.
type InvocationRow struct {
	When, Version, Outcome, Duration string
	Cold, Failed                     bool
}

// shown reports whether the refused form is form.
func (v VersionsView) shown(form string) bool {
	return v.Err != "" && v.ErrForm == form
}
