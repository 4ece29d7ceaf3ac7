package ui

import (
	"net/url"
)

// The view values of the Configuration panel (configure.templ). The web
// package reads the function's state from Lambda and fills these in words;
// a refused form comes back with the learner's own values in place of the
// function's.

// ConfigView is the Configuration panel of one function of a lab.
type ConfigView struct {
	Lab      string // lab id, for the forms' actions
	Function string
	// Missing says why there is nothing to configure (the function is not
	// in the learner's account yet); everything below is empty then.
	Missing string
	Flash   string
	// Err is why the form named ErrForm was refused; that form shows the
	// values the learner sent.
	Err, ErrForm string

	Arn string
	// Revision is $LATEST's RevisionId when the page was made: the forms
	// that change $LATEST send it back, so that a change made meanwhile (in
	// another tab, or with the CLI) is refused instead of overwritten.
	Revision string

	General     ConfigGeneral
	Env         []EnvRow
	Layers      ConfigLayers
	Concurrency ConfigConcurrency
	Permissions ConfigPermissions
	Async       ConfigAsync
}

// Choice is one option of a select.
type Choice struct {
	Value, Label string
}

// Fact is one line of a description list.
type Fact struct {
	Label, Value string
}

// ConfigGeneral is the general settings form and what is in force.
type ConfigGeneral struct {
	// The form's values.
	Runtime, Handler, Memory, Timeout, Ephemeral, Tracing, Description string
	Runtimes                                                           []string
	// Facts describe $LATEST as it is now; CPU says what its memory buys.
	Facts []Fact
	CPU   string
}

// EnvRow is one row of the environment variables form. Index names the
// row's remove box; blank rows add variables.
type EnvRow struct {
	Index      int
	Key, Value string
	Remove     bool
}

// ConfigLayers is the layers section.
type ConfigLayers struct {
	Attached []AttachedLayer // in the order they are merged into /opt
	Max      int
	// Options are the account's layer versions that can be attached.
	Options []Choice
	// The attach form's values: a layer version chosen, or an ARN typed.
	Choose, ARN string
	// The upload form's values (the file itself cannot be refilled).
	UploadName, UploadDescription, UploadRuntimes string
	// XRay is the ready X-Ray SDK layer: its layer name in the account,
	// whether the zip is built, and whether the function already has it.
	XRayName     string
	XRayReady    bool
	XRayAttached bool
}

// AttachedLayer is one layer of the function, in order.
type AttachedLayer struct {
	Arn, Name, Version, Size string
}

// ConfigConcurrency is the reserved and provisioned concurrency section.
type ConfigConcurrency struct {
	// Reserved is the reservation in words ("none" when the function shares
	// the pool); Account the account's limit and what is left unreserved.
	Reserved, Account string
	HasReservation    bool
	// Value is the reserve form's value.
	Value string
	// Provisioned lists the configurations per version or alias.
	Provisioned []ProvisionedRow
	// Targets are the versions and aliases provisioned concurrency can be
	// put on; the form's values follow.
	Targets                  []Choice
	ProvQualifier, ProvCount string
	// Pending is true while a configuration is still IN_PROGRESS: the
	// section then refreshes itself from RefreshURL.
	Pending    bool
	RefreshURL string
}

// ProvisionedRow is one provisioned concurrency configuration.
type ProvisionedRow struct {
	Qualifier, Status, Words string
}

// ConfigPermissions is the resource policy section.
type ConfigPermissions struct {
	Statements []PolicyStatement
	Targets    []Choice // the function itself, its aliases and versions
	// The add form's values.
	Qualifier, Sid, Principal, SourceArn, SourceAccount, Action string
}

// PolicyStatement is one statement of a resource policy, in words.
type PolicyStatement struct {
	Qualifier, Sid, Words string
}

// ConfigAsync is the asynchronous invocation section.
type ConfigAsync struct {
	Configs []AsyncRow
	Targets []Choice // $LATEST, aliases and versions
	// The form's values.
	Qualifier, Retries, MaxAge, OnSuccess, OnFailure string
}

// AsyncRow is one asynchronous invocation configuration, in words.
type AsyncRow struct {
	Qualifier, Target string
	Facts             []Fact
}

// cfgAction is the URL a workspace form posts to: /labs/{lab}/{path}.
func cfgAction(lab, path string) string {
	return "/labs/" + url.PathEscape(lab) + "/" + path
}

// shown reports whether the refused form is form, so that it carries the
// reason beside it.
func (v ConfigView) shown(form string) bool {
	return v.Err != "" && v.ErrForm == form
}

// cfgUploadAction is the layer upload's action. The function and tab go in
// the query as well: an upload too large to read still comes back to the
// right function.
func cfgUploadAction(lab, fn string) string {
	return cfgAction(lab, "config/layers/upload") + "?" + url.Values{"fn": {fn}, "tab": {"config"}}.Encode()
}
