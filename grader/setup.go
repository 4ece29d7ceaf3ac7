package grader

import (
	"context"
	"fmt"
	"io/fs"

	"lambdalab/cloud"
	"lambdalab/cloud/inproc"
	"lambdalab/cloud/lambda"
	"lambdalab/labs"
)

// SetUp gives a learner's account what lab provides and the account lacks:
// the lab's buckets and their seed objects, and its functions made from the
// starter code with the lab's configuration. Nothing the learner made is
// replaced: a function or bucket that exists is left as it is, and a seed
// object is only written where its key is free. Calling it again changes
// nothing. A refusal of the starter's code (which the lab's own check
// proves never happens) comes back as a *Failure.
func (g *Grader) SetUp(ctx context.Context, lab *labs.Lab, account string) error {
	if lab.Starter == nil {
		return fmt.Errorf("set up %s: the lab has no starter", lab.ID)
	}
	keys, err := g.cfg.DB.AccountKeys(ctx, account)
	if err != nil {
		return fmt.Errorf("set up %s in %s: %w", lab.ID, account, err)
	}
	if len(keys) == 0 {
		return fmt.Errorf("set up %s in %s: the account has no access key", lab.ID, account)
	}
	starter, err := fs.Sub(lab.FS, lab.Starter.Dir)
	if err != nil {
		return fmt.Errorf("set up %s: starter: %w", lab.ID, err)
	}
	// The account's own key, the newest (AccountKeys is oldest first): the
	// buckets are made as the learner's CLI would make them.
	env := &Env{
		Account:    account,
		Region:     cloud.Region,
		DB:         g.cfg.DB,
		Lambda:     g.cfg.Lambda,
		XRay:       g.cfg.XRay,
		S3:         inproc.S3(g.cfg.Endpoint, keys[len(keys)-1]),
		Lab:        lab,
		Files:      starter,
		ReadyLayer: g.cfg.ReadyLayer,
	}
	if err := env.ProvisionMissing(ctx); err != nil {
		return fmt.Errorf("set up %s in %s: %w", lab.ID, account, err)
	}
	for _, fn := range lab.Functions {
		_, err := g.cfg.Lambda.GetFunctionConfiguration(ctx, account, fn.Name, "")
		if err == nil {
			continue
		}
		if le, ok := lambda.AsError(err); !ok || le.Type != "ResourceNotFoundException" {
			return fmt.Errorf("set up %s in %s: function %s: %w", lab.ID, account, fn.Name, err)
		}
		zip, err := env.Package(ctx, fn, "", nil)
		if err != nil {
			return fmt.Errorf("set up %s: starter of %s: %w", lab.ID, fn.Name, err)
		}
		if err := env.CreateFunction(ctx, fn, zip); err != nil {
			// A second click or the learner's CLI may have made it meanwhile.
			if _, again := g.cfg.Lambda.GetFunctionConfiguration(ctx, account, fn.Name, ""); again == nil {
				continue
			}
			return fmt.Errorf("set up %s in %s: %w", lab.ID, account, err)
		}
	}
	return nil
}
