package ui

// BucketsView is the Buckets panel: the learner's buckets, the chosen
// bucket's objects under a prefix, an object's text, the upload form and
// the notifications that trigger functions. Every URL is ready to use.
type BucketsView struct {
	// Hidden are the fields every form of the panel carries (fn, tab).
	Hidden  []BucketField
	Buckets []BucketLink
	// Bucket is the bucket shown; empty when the account has none.
	Bucket string
	// Missing says why no bucket is shown (none yet, or not in the account).
	Missing string
	// Crumbs lead from the bucket's top to the prefix shown; the last is
	// the prefix itself.
	Crumbs  []BucketCrumb
	Prefix  string
	Folders []BucketCrumb
	Objects []BucketObject
	// MoreURL lists the next page of objects; empty on the last.
	MoreURL string
	// Text is the object being viewed, nil when none.
	Text *BucketText

	UploadAction string
	// UploadKey fills the upload form's key: the folder shown, or the key
	// of a refused upload.
	UploadKey    string
	DeleteAction string

	Triggers []BucketTrigger
	// Warnings are about the triggers: recursive loops.
	Warnings []string
	Trigger  BucketTriggerForm

	Flash string
	// Err is a refusal shown beside the form it belongs to: ErrAt is
	// "upload", "object", "trigger", "remove" or "" (the top of the panel).
	Err   string
	ErrAt string
}

// BucketField is a hidden form field.
type BucketField struct{ Name, Value string }

// BucketLink is one bucket in the list.
type BucketLink struct {
	Name, URL string
	// Lab marks the lab's own buckets; Exists is false for a lab bucket the
	// account does not have (yet).
	Lab, Exists, Current bool
}

// BucketCrumb is a named link: a folder or a step of the path.
type BucketCrumb struct{ Name, URL string }

// BucketObject is one object of the listing.
type BucketObject struct {
	Key, Name            string
	Size, Modified       string
	DownloadURL, ViewURL string
	Viewing              bool
}

// BucketText is an object shown in the panel.
type BucketText struct {
	Key, Size, ContentType, DownloadURL, CloseURL string
	Text                                          string
	// Truncated: only the first part is shown. Binary: nothing is shown.
	Truncated, Binary, Empty bool
	Shown                    string // how much is shown when Truncated
}

// BucketTrigger is one notification configuration.
type BucketTrigger struct {
	ID, Events, Filter, Target, TargetARN string
	EditURL                               string
	Editing                               bool
}

// BucketTriggerForm adds or edits a notification configuration.
type BucketTriggerForm struct {
	Action, RemoveAction string
	// OrigID is the id of the configuration being edited; empty adds one.
	OrigID         string
	ID             string
	Prefix, Suffix string
	Events         []BucketChoice
	Targets        []BucketChoice
	Allow          bool
	CancelURL      string
	// NoTargets says why there is nothing to choose (no function yet).
	NoTargets string
}

// BucketChoice is an option or a checkbox.
type BucketChoice struct {
	Value, Label string
	Checked      bool
}
