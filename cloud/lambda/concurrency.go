package lambda

import (
	"context"
	"errors"
	"fmt"

	"lambdalab/facts"
	"lambdalab/sandbox"
	"lambdalab/store"
)

// PutFunctionConcurrency reserves concurrency for a function (all its
// versions together); 0 throttles every invocation.
func (s *Service) PutFunctionConcurrency(ctx context.Context, account, name string, n int) (Concurrency, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return Concurrency{}, err
	}
	if ref.Qualifier != "" {
		return Concurrency{}, invalid("Reserved concurrency applies to a whole function; name it without a qualifier")
	}
	if n < 0 {
		return Concurrency{}, invalid("1 validation error detected: Value '%d' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0", n)
	}
	if _, err := s.db.LambdaFunction(ctx, account, ref.Name); err != nil {
		return Concurrency{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	if e := s.engine.Load(); e != nil {
		if err := e.SetReservedConcurrency(account, ref.Name, &n); err != nil {
			return Concurrency{}, fromSandbox(err)
		}
	}
	if err := s.db.SetReservedConcurrency(ctx, account, ref.Name, &n); err != nil {
		return Concurrency{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	return Concurrency{ReservedConcurrentExecutions: &n}, nil
}

// GetFunctionConcurrency reports a function's reservation ({} when none).
func (s *Service) GetFunctionConcurrency(ctx context.Context, account, name string) (Concurrency, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return Concurrency{}, err
	}
	f, err := s.db.LambdaFunction(ctx, account, ref.Name)
	if err != nil {
		return Concurrency{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	return Concurrency{ReservedConcurrentExecutions: f.ReservedConcurrency}, nil
}

// DeleteFunctionConcurrency removes a reservation.
func (s *Service) DeleteFunctionConcurrency(ctx context.Context, account, name string) error {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return err
	}
	if err := s.db.SetReservedConcurrency(ctx, account, ref.Name, nil); err != nil {
		return storeErr(err, "Function not found: "+ref.arn(account))
	}
	if e := s.engine.Load(); e != nil {
		e.SetReservedConcurrency(account, ref.Name, nil)
	}
	return nil
}

// ProvisionedConcurrencyConfig is Lambda's provisioned concurrency status.
type ProvisionedConcurrencyConfig struct {
	FunctionArn                              string `json:"FunctionArn,omitempty"`
	RequestedProvisionedConcurrentExecutions int    `json:"RequestedProvisionedConcurrentExecutions"`
	AvailableProvisionedConcurrentExecutions int    `json:"AvailableProvisionedConcurrentExecutions"`
	AllocatedProvisionedConcurrentExecutions int    `json:"AllocatedProvisionedConcurrentExecutions"`
	Status                                   string `json:"Status"`
	StatusReason                             string `json:"StatusReason,omitempty"`
	LastModified                             string `json:"LastModified"`
}

// provisionedTarget resolves the version a provisioned configuration on
// qualifier keeps warm, refusing what Lambda refuses.
func (s *Service) provisionedTarget(ctx context.Context, account, name, qualifier string) (sandbox.Function, error) {
	if qualifier == "" || qualifier == "$LATEST" {
		return sandbox.Function{}, invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
	}
	ref := functionRef{Name: name, Qualifier: qualifier}
	if !isVersionNumber(qualifier) {
		a, err := s.db.Alias(ctx, account, name, qualifier)
		if err != nil {
			return sandbox.Function{}, storeErr(err, "Function not found: "+ref.arn(account))
		}
		if a.AdditionalVersion != "" {
			return sandbox.Function{}, invalid("Alias with weights can not be used with Provisioned Concurrency")
		}
		if a.Version == "$LATEST" {
			return sandbox.Function{}, invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
		}
		ref.Qualifier = a.Version
	}
	v, c, err := s.version(ctx, account, ref)
	if err != nil {
		return sandbox.Function{}, err
	}
	return s.sandboxFunction(v, c)
}

func (s *Service) applyProvisioned(ctx context.Context, e *sandbox.Engine, account, name, qualifier string, n int) error {
	fn, err := s.provisionedTarget(ctx, account, name, qualifier)
	if err != nil {
		return err
	}
	return invokeErr(e.SetProvisionedConcurrency(ctx, fn, n))
}

// PutProvisionedConcurrencyConfig keeps n instances of a version (or an
// alias's version) initialised. It answers at once with IN_PROGRESS.
func (s *Service) PutProvisionedConcurrencyConfig(ctx context.Context, account, name, qualifier string, n int) (ProvisionedConcurrencyConfig, error) {
	ref, err := s.ownRef(account, name, qualifier)
	if err != nil {
		return ProvisionedConcurrencyConfig{}, err
	}
	if n < 1 {
		return ProvisionedConcurrencyConfig{}, invalid("1 validation error detected: Value '%d' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
	}
	fn, err := s.provisionedTarget(ctx, account, ref.Name, ref.Qualifier)
	if err != nil {
		return ProvisionedConcurrencyConfig{}, err
	}
	e, err := s.eng()
	if err != nil {
		return ProvisionedConcurrencyConfig{}, err
	}
	if err := e.SetProvisionedConcurrency(ctx, fn, n); err != nil {
		// Past the machine's provisioned budget: the 503 that says so.
		return ProvisionedConcurrencyConfig{}, invokeErr(err)
	}
	p := store.LambdaProvisioned{AccountID: account, Function: ref.Name, Qualifier: ref.Qualifier, Requested: n, LastModified: now()}
	if err := s.db.PutProvisionedConcurrency(ctx, p); err != nil {
		return ProvisionedConcurrencyConfig{}, fmt.Errorf("put provisioned concurrency of %s:%s: %w", ref.Name, ref.Qualifier, err)
	}
	return ProvisionedConcurrencyConfig{RequestedProvisionedConcurrentExecutions: n, Status: "IN_PROGRESS",
		LastModified: lastModified(p.LastModified)}, nil
}

// GetProvisionedConcurrencyConfig reports the allocation as it rises.
func (s *Service) GetProvisionedConcurrencyConfig(ctx context.Context, account, name, qualifier string) (ProvisionedConcurrencyConfig, error) {
	ref, err := s.ownRef(account, name, qualifier)
	if err != nil {
		return ProvisionedConcurrencyConfig{}, err
	}
	p, err := s.db.ProvisionedConcurrency(ctx, account, ref.Name, ref.Qualifier)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ProvisionedConcurrencyConfig{}, &Error{Type: "ProvisionedConcurrencyConfigNotFoundException", Status: 404,
				Message: "No Provisioned Concurrency Config found for this function"}
		}
		return ProvisionedConcurrencyConfig{}, err
	}
	return s.provisionedStatus(ctx, p), nil
}

func (s *Service) provisionedStatus(ctx context.Context, p store.LambdaProvisioned) ProvisionedConcurrencyConfig {
	out := ProvisionedConcurrencyConfig{FunctionArn: functionARN(p.AccountID, p.Function) + ":" + p.Qualifier,
		RequestedProvisionedConcurrentExecutions: p.Requested, Status: "IN_PROGRESS", LastModified: lastModified(p.LastModified)}
	e := s.engine.Load()
	fn, err := s.provisionedTarget(ctx, p.AccountID, p.Function, p.Qualifier)
	if e == nil || err != nil {
		if err != nil {
			out.Status, out.StatusReason = "FAILED", err.Error()
		}
		return out
	}
	_, allocated := e.ProvisionedConcurrency(fn)
	out.AllocatedProvisionedConcurrentExecutions = allocated
	out.AvailableProvisionedConcurrentExecutions = allocated
	if allocated >= p.Requested {
		out.Status = "READY"
	}
	return out
}

// ListProvisionedConcurrencyConfigsOutput is the List answer.
type ListProvisionedConcurrencyConfigsOutput struct {
	ProvisionedConcurrencyConfigs []ProvisionedConcurrencyConfig `json:"ProvisionedConcurrencyConfigs"`
}

// ListProvisionedConcurrencyConfigs lists a function's configurations.
func (s *Service) ListProvisionedConcurrencyConfigs(ctx context.Context, account, name string) (ListProvisionedConcurrencyConfigsOutput, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return ListProvisionedConcurrencyConfigsOutput{}, err
	}
	ps, err := s.db.ListProvisionedConcurrency(ctx, account, ref.Name)
	if err != nil {
		return ListProvisionedConcurrencyConfigsOutput{}, fmt.Errorf("list provisioned concurrency of %s: %w", ref.Name, err)
	}
	out := ListProvisionedConcurrencyConfigsOutput{ProvisionedConcurrencyConfigs: []ProvisionedConcurrencyConfig{}}
	for _, p := range ps {
		out.ProvisionedConcurrencyConfigs = append(out.ProvisionedConcurrencyConfigs, s.provisionedStatus(ctx, p))
	}
	return out, nil
}

// releaseProvisioned tells the engine to let go of the provisioned
// instances of one qualifier ("" = every configuration of the function).
func (s *Service) releaseProvisioned(ctx context.Context, account, name, qualifier string) {
	e := s.engine.Load()
	if e == nil {
		return
	}
	var ps []store.LambdaProvisioned
	if qualifier == "" {
		ps, _ = s.db.ListProvisionedConcurrency(ctx, account, name)
	} else if p, err := s.db.ProvisionedConcurrency(ctx, account, name, qualifier); err == nil {
		ps = append(ps, p)
	}
	for _, p := range ps {
		if fn, err := s.provisionedTarget(ctx, account, name, p.Qualifier); err == nil {
			e.SetProvisionedConcurrency(ctx, fn, 0)
		}
	}
}

// DeleteProvisionedConcurrencyConfig releases a configuration's instances.
func (s *Service) DeleteProvisionedConcurrencyConfig(ctx context.Context, account, name, qualifier string) error {
	ref, err := s.ownRef(account, name, qualifier)
	if err != nil {
		return err
	}
	if e := s.engine.Load(); e != nil {
		if fn, err := s.provisionedTarget(ctx, account, ref.Name, ref.Qualifier); err == nil {
			e.SetProvisionedConcurrency(ctx, fn, 0)
		}
	}
	if err := s.db.DeleteProvisionedConcurrency(ctx, account, ref.Name, ref.Qualifier); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &Error{Type: "ProvisionedConcurrencyConfigNotFoundException", Status: 404, Message: "No Provisioned Concurrency Config found for this function"}
		}
		return err
	}
	return nil
}

// AccountSettings is GetAccountSettings's answer.
type AccountSettings struct {
	AccountLimit struct {
		TotalCodeSize                  int64 `json:"TotalCodeSize"`
		CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
		CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
		ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
		UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
	} `json:"AccountLimit"`
	AccountUsage struct {
		TotalCodeSize int64 `json:"TotalCodeSize"`
		FunctionCount int   `json:"FunctionCount"`
	} `json:"AccountUsage"`
}

// GetAccountSettings reports the account's limits and usage.
func (s *Service) GetAccountSettings(ctx context.Context, account string) (AccountSettings, error) {
	var out AccountSettings
	out.AccountLimit.TotalCodeSize = facts.MaxCodeStorage
	out.AccountLimit.CodeSizeUnzipped = facts.MaxUnzipped
	out.AccountLimit.CodeSizeZipped = facts.MaxZipped
	limit := 10
	if e := s.engine.Load(); e != nil {
		limit = e.AccountConcurrency()
	}
	out.AccountLimit.ConcurrentExecutions = limit
	fns, err := s.db.ListFunctions(ctx, account, "", maxFunctions)
	if err != nil {
		return out, fmt.Errorf("account settings: %w", err)
	}
	reserved := 0
	for _, v := range fns {
		out.AccountUsage.TotalCodeSize += v.CodeSize
		if f, err := s.db.LambdaFunction(ctx, account, v.Function); err == nil && f.ReservedConcurrency != nil {
			reserved += *f.ReservedConcurrency
		}
	}
	out.AccountUsage.FunctionCount = len(fns)
	out.AccountLimit.UnreservedConcurrentExecutions = limit - reserved
	return out, nil
}
