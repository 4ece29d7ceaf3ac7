package grader

import (
	"context"
	"encoding/json"
	"fmt"

	"lambdalab/cloud/lambda"
)

// accountState is what a submission from a learner's account records of
// it: enough to see later what was graded (configuration, versions,
// aliases, policies, layers, buckets and their triggers), without object
// bodies. Code is named by CodeSha256.
type accountState struct {
	Account   string                  `json:"account"`
	Functions []functionState         `json:"functions"`
	Layers    []lambda.LayersListItem `json:"layers,omitempty"`
	Buckets   []bucketState           `json:"buckets,omitempty"`
}

type functionState struct {
	Versions []lambda.FunctionConfiguration `json:"versions"` // $LATEST first
	Aliases  []lambda.AliasConfiguration    `json:"aliases,omitempty"`
	Policy   string                         `json:"policy,omitempty"`
}

type bucketState struct {
	Name         string          `json:"name"`
	Notification json.RawMessage `json:"notification,omitempty"`
}

// Snapshot records the learner's account for a submission (the store
// keeps it with the submission; Grade copies the live account).
func (g *Grader) Snapshot(ctx context.Context, account string) ([]byte, error) {
	st := accountState{Account: account}
	marker := ""
	for {
		page, err := g.cfg.Lambda.ListFunctions(ctx, account, marker, 50)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", account, err)
		}
		for _, f := range page.Functions {
			fs := functionState{}
			vs, err := g.cfg.Lambda.ListVersionsByFunction(ctx, account, f.FunctionName, "", 50)
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: %w", f.FunctionName, err)
			}
			fs.Versions = vs.Versions
			as, err := g.cfg.Lambda.ListAliases(ctx, account, f.FunctionName, "")
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: %w", f.FunctionName, err)
			}
			fs.Aliases = as.Aliases
			if p, err := g.cfg.Lambda.GetPolicy(ctx, account, f.FunctionName, ""); err == nil {
				fs.Policy = p.Policy
			}
			st.Functions = append(st.Functions, fs)
		}
		if page.NextMarker == "" {
			break
		}
		marker = page.NextMarker
	}
	layers, err := g.cfg.Lambda.ListLayers(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", account, err)
	}
	st.Layers = layers.Layers
	buckets, err := g.cfg.DB.ListS3Buckets(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", account, err)
	}
	for _, b := range buckets {
		bs := bucketState{Name: b.Name}
		if len(b.Notification) > 0 && json.Valid(b.Notification) {
			bs.Notification = b.Notification
		}
		st.Buckets = append(st.Buckets, bs)
	}
	return json.Marshal(st)
}
