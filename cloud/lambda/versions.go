package lambda

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"lambdalab/sandbox"
	"lambdalab/store"
)

// PublishVersionInput is PublishVersion's request.
type PublishVersionInput struct {
	CodeSha256  string `json:"CodeSha256"`
	Description string `json:"Description"`
	RevisionID  string `json:"RevisionId"`
}

// PublishVersion snapshots $LATEST into the next version number. When
// neither code nor configuration changed since the newest version, Lambda
// creates nothing and returns that version.
func (s *Service) PublishVersion(ctx context.Context, account, name string, in PublishVersionInput) (FunctionConfiguration, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return FunctionConfiguration{}, err
	}
	if err := checkDescription(in.Description); err != nil {
		return FunctionConfiguration{}, err
	}
	var cfg versionConfig
	v, created, err := s.db.PublishVersion(ctx, account, ref.Name, func(latest store.LambdaVersion, newest *store.LambdaVersion, next int) (store.LambdaVersion, bool, error) {
		if in.CodeSha256 != "" && in.CodeSha256 != latest.CodeSha256 {
			return store.LambdaVersion{}, false, invalid("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", in.CodeSha256, latest.CodeSha256)
		}
		if in.RevisionID != "" && in.RevisionID != latest.RevisionID {
			return store.LambdaVersion{}, false, errStaleRevision()
		}
		c, err := parseConfig(latest.Config)
		if err != nil {
			return store.LambdaVersion{}, false, err
		}
		if in.Description != "" {
			c.Description = in.Description
		}
		if newest != nil && newest.CodeSha256 == latest.CodeSha256 {
			nc, err := parseConfig(newest.Config)
			if err != nil {
				return store.LambdaVersion{}, false, err
			}
			// A description given now does not make a new version on
			// its own: compare with the configuration alone.
			lc, _ := parseConfig(latest.Config)
			nc2 := nc
			nc2.Description = lc.Description
			if lc.sameAs(nc2) {
				cfg = nc
				return *newest, false, nil
			}
		}
		cfg = c
		return store.LambdaVersion{AccountID: account, Function: ref.Name, Version: strconv.Itoa(next),
			Config: c.marshal(), CodeSha256: latest.CodeSha256, CodeSize: latest.CodeSize,
			RevisionID: sandbox.NewRequestID(), LastModified: now()}, true, nil
	})
	if err != nil {
		return FunctionConfiguration{}, s.updateErr(err, ref, account)
	}
	if created {
		s.logger.InfoContext(ctx, "version published", "account", account, "function", ref.Name, "version", v.Version)
	}
	return documentOf(v, cfg), nil
}

// ListVersionsOutput is one page of ListVersionsByFunction.
type ListVersionsOutput struct {
	Versions   []FunctionConfiguration `json:"Versions"`
	NextMarker string                  `json:"NextMarker,omitempty"`
}

// ListVersionsByFunction lists $LATEST and every published version.
func (s *Service) ListVersionsByFunction(ctx context.Context, account, name, marker string, maxItems int) (ListVersionsOutput, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return ListVersionsOutput{}, err
	}
	if _, err := s.db.LambdaFunction(ctx, account, ref.Name); err != nil {
		return ListVersionsOutput{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	if maxItems <= 0 || maxItems > 50 {
		maxItems = 50
	}
	vs, err := s.db.ListFunctionVersions(ctx, account, ref.Name, marker, maxItems+1)
	if err != nil {
		return ListVersionsOutput{}, fmt.Errorf("list versions of %s: %w", ref.Name, err)
	}
	out := ListVersionsOutput{Versions: []FunctionConfiguration{}}
	for i, v := range vs {
		if i == maxItems {
			out.NextMarker = vs[i-1].Version
			break
		}
		c, err := parseConfig(v.Config)
		if err != nil {
			return ListVersionsOutput{}, err
		}
		out.Versions = append(out.Versions, documentOf(v, c))
	}
	return out, nil
}

// AliasConfiguration is Lambda's alias document.
type AliasConfiguration struct {
	AliasArn        string         `json:"AliasArn"`
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RevisionID      string         `json:"RevisionId"`
	RoutingConfig   *RoutingConfig `json:"RoutingConfig,omitempty"`
}

// RoutingConfig sends a share of an alias's traffic to a second version.
type RoutingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

// AliasInput is CreateAlias's and UpdateAlias's request.
type AliasInput struct {
	Name            string         `json:"Name"`
	FunctionVersion *string        `json:"FunctionVersion"`
	Description     *string        `json:"Description"`
	RoutingConfig   *RoutingConfig `json:"RoutingConfig"`
	RevisionID      string         `json:"RevisionId"`
}

func aliasDoc(a store.LambdaAlias) AliasConfiguration {
	d := AliasConfiguration{AliasArn: functionARN(a.AccountID, a.Function) + ":" + a.Name, Name: a.Name,
		FunctionVersion: a.Version, Description: a.Description, RevisionID: a.RevisionID}
	if a.AdditionalVersion != "" {
		d.RoutingConfig = &RoutingConfig{AdditionalVersionWeights: map[string]float64{a.AdditionalVersion: a.AdditionalWeight}}
	}
	return d
}

// applyAlias validates in against Lambda's alias rules and sets it on a.
func applyAlias(a *store.LambdaAlias, in AliasInput) error {
	if in.FunctionVersion != nil {
		if *in.FunctionVersion != "$LATEST" && !isVersionNumber(*in.FunctionVersion) {
			return invalid("1 validation error detected: Value '%s' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)", *in.FunctionVersion)
		}
		a.Version = *in.FunctionVersion
	}
	if in.Description != nil {
		if err := checkDescription(*in.Description); err != nil {
			return err
		}
		a.Description = *in.Description
	}
	if in.RoutingConfig != nil {
		w := in.RoutingConfig.AdditionalVersionWeights
		switch {
		case len(w) > 1:
			return invalid("Number of items in AdditionalVersionWeights cannot be greater than 1")
		case len(w) == 0:
			a.AdditionalVersion, a.AdditionalWeight = "", 0
		}
		for v, weight := range w {
			if !isVersionNumber(v) {
				return invalid("1 validation error detected: Value '%s' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]+]", v)
			}
			if weight < 0 || weight > 1 {
				return invalid("1 validation error detected: Value '%v' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]", weight)
			}
			a.AdditionalVersion, a.AdditionalWeight = v, weight
		}
	}
	if a.AdditionalVersion != "" {
		if a.Version == "$LATEST" {
			return invalid("$LATEST is not supported for an alias pointing to more than 1 version")
		}
		if a.AdditionalVersion == a.Version {
			return invalid("Invalid function version %s. Function version %s is already included in routing configuration.", a.Version, a.Version)
		}
	}
	return nil
}

// CreateAlias names a version of a function.
func (s *Service) CreateAlias(ctx context.Context, account, name string, in AliasInput) (AliasConfiguration, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return AliasConfiguration{}, err
	}
	if !aliasRE.MatchString(in.Name) || numericRE.MatchString(in.Name) {
		return AliasConfiguration{}, invalid("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)", in.Name)
	}
	if in.FunctionVersion == nil {
		return AliasConfiguration{}, invalid("1 validation error detected: Value null at 'functionVersion' failed to satisfy constraint: Member must not be null")
	}
	a := store.LambdaAlias{AccountID: account, Function: ref.Name, Name: in.Name, RevisionID: sandbox.NewRequestID()}
	if err := applyAlias(&a, in); err != nil {
		return AliasConfiguration{}, err
	}
	if err := s.db.CreateAlias(ctx, a); err != nil {
		switch {
		case errors.Is(err, store.ErrExists):
			return AliasConfiguration{}, conflict("Alias already exists: %s:%s", functionARN(account, ref.Name), in.Name)
		case errors.Is(err, store.ErrNotFound):
			return AliasConfiguration{}, s.aliasTargetMissing(ctx, account, ref, a)
		}
		return AliasConfiguration{}, fmt.Errorf("create alias %s of %s: %w", in.Name, ref.Name, err)
	}
	return aliasDoc(a), nil
}

// aliasTargetMissing says which of the function or its versions is absent.
func (s *Service) aliasTargetMissing(ctx context.Context, account string, ref functionRef, a store.LambdaAlias) error {
	if _, err := s.db.LambdaFunction(ctx, account, ref.Name); err != nil {
		return notFound("Function not found: %s", functionARN(account, ref.Name))
	}
	for _, v := range []string{a.Version, a.AdditionalVersion} {
		if v == "" {
			continue
		}
		if _, err := s.db.FunctionVersion(ctx, account, ref.Name, v); err != nil {
			return notFound("Function not found: %s:%s", functionARN(account, ref.Name), v)
		}
	}
	return notFound("Function not found: %s", functionARN(account, ref.Name))
}

// GetAlias describes one alias.
func (s *Service) GetAlias(ctx context.Context, account, name, alias string) (AliasConfiguration, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return AliasConfiguration{}, err
	}
	a, err := s.db.Alias(ctx, account, ref.Name, alias)
	if err != nil {
		return AliasConfiguration{}, storeErr(err, fmt.Sprintf("Alias not found: %s:%s", functionARN(account, ref.Name), alias))
	}
	return aliasDoc(a), nil
}

// UpdateAlias moves an alias or changes its routing.
func (s *Service) UpdateAlias(ctx context.Context, account, name, alias string, in AliasInput) (AliasConfiguration, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return AliasConfiguration{}, err
	}
	before, _ := s.db.Alias(ctx, account, ref.Name, alias)
	a, err := s.db.UpdateAlias(ctx, account, ref.Name, alias, func(a *store.LambdaAlias) error {
		if in.RevisionID != "" && in.RevisionID != a.RevisionID {
			return errStaleRevision()
		}
		if err := applyAlias(a, in); err != nil {
			return err
		}
		a.RevisionID = sandbox.NewRequestID()
		return nil
	})
	if err != nil {
		if _, ok := AsError(err); ok {
			return AliasConfiguration{}, err
		}
		if errors.Is(err, store.ErrNotFound) {
			if _, gerr := s.db.Alias(ctx, account, ref.Name, alias); gerr != nil {
				return AliasConfiguration{}, notFound("Alias not found: %s:%s", functionARN(account, ref.Name), alias)
			}
			return AliasConfiguration{}, notFound("Function version not found for alias %s of %s", alias, ref.Name)
		}
		return AliasConfiguration{}, fmt.Errorf("update alias %s of %s: %w", alias, ref.Name, err)
	}
	s.logger.InfoContext(ctx, "alias updated", "account", account, "function", ref.Name, "alias", alias, "version", a.Version)
	// Provisioned concurrency on an alias follows it to its new version.
	if e := s.engine.Load(); e != nil && before.Version != a.Version {
		if p, err := s.db.ProvisionedConcurrency(ctx, account, ref.Name, alias); err == nil {
			if v, c, err := s.version(ctx, account, functionRef{Name: ref.Name, Qualifier: before.Version}); err == nil {
				if fn, err := s.sandboxFunction(v, c); err == nil {
					e.SetProvisionedConcurrency(ctx, fn, 0)
				}
			}
			if err := s.applyProvisioned(ctx, e, account, ref.Name, alias, p.Requested); err != nil {
				s.logger.WarnContext(ctx, "move provisioned concurrency with alias", "err", err)
			}
		}
	}
	return aliasDoc(a), nil
}

// ListAliasesOutput is ListAliases's answer.
type ListAliasesOutput struct {
	Aliases []AliasConfiguration `json:"Aliases"`
}

// ListAliases lists a function's aliases, or those routing to version.
func (s *Service) ListAliases(ctx context.Context, account, name, version string) (ListAliasesOutput, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return ListAliasesOutput{}, err
	}
	if _, err := s.db.LambdaFunction(ctx, account, ref.Name); err != nil {
		return ListAliasesOutput{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	as, err := s.db.ListAliases(ctx, account, ref.Name, version)
	if err != nil {
		return ListAliasesOutput{}, fmt.Errorf("list aliases of %s: %w", ref.Name, err)
	}
	out := ListAliasesOutput{Aliases: []AliasConfiguration{}}
	for _, a := range as {
		out.Aliases = append(out.Aliases, aliasDoc(a))
	}
	return out, nil
}

// DeleteAlias removes an alias.
func (s *Service) DeleteAlias(ctx context.Context, account, name, alias string) error {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return err
	}
	// Release the alias's provisioned instances while the alias still says
	// which version they run.
	s.releaseProvisioned(ctx, account, ref.Name, alias)
	if err := s.db.DeleteAlias(ctx, account, ref.Name, alias); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil // Lambda answers 204 for an absent alias too
		}
		return fmt.Errorf("delete alias %s of %s: %w", alias, ref.Name, err)
	}
	// Its provisioned configuration goes with it, or a later alias of the
	// same name would inherit it.
	if err := s.db.DeleteProvisionedConcurrency(ctx, account, ref.Name, alias); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete provisioned concurrency of %s:%s: %w", ref.Name, alias, err)
	}
	return nil
}

// pickVersion draws the version an alias invocation runs: the additional
// version with its weight, the primary otherwise (Lambda's per-request
// random draw).
func pickVersion(a store.LambdaAlias, draw func() float64) string {
	if a.AdditionalVersion != "" && draw() < a.AdditionalWeight {
		return a.AdditionalVersion
	}
	return a.Version
}

var randFloat = rand.Float64
