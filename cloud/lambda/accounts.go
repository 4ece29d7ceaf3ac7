package lambda

import (
	"context"
	"errors"
	"fmt"

	"lambdalab/sandbox"
	"lambdalab/store"
)

// Scratch accounts for the grader: a copy of a learner's account to grade
// in, and its deletion afterwards.

// accountCopier is what CopyAccount asks of the S3 service: copying the
// account's rows with a file of its own for each body kept in a file.
// *s3.Service satisfies it.
type accountCopier interface {
	CopyAccount(ctx context.Context, from, to string) error
}

// CopyAccount makes the empty scratch account to a copy of account from:
// its functions, versions, aliases, layers, policies, async configurations,
// concurrency settings and recursion settings, its buckets, notification
// configurations and objects, with every ARN that named from naming to (see
// store.CopyAccount). Code packages are shared by content address. The
// rows are copied in one transaction by the S3 service handed over with
// SetObjectStore, which gives the copy its own body files; without one, a
// body kept in a file makes the copy fail. Then the copy's reserved and
// provisioned concurrency are applied to the engine, as SetEngine does for
// every account, so the copy throttles and keeps instances warm as the
// original does. Invocation records, traces, keys and async events in
// flight stay with the original. After an error the target may hold the
// copied rows without their engine settings: delete it (DeleteAccount).
func (s *Service) CopyAccount(ctx context.Context, from, to string) error {
	var err error
	if c, ok := s.objectStore().(accountCopier); ok {
		err = c.CopyAccount(ctx, from, to)
	} else {
		err = s.db.CopyAccount(ctx, from, to, nil)
	}
	if err != nil {
		return fmt.Errorf("copy account %s to %s: %w", from, to, err)
	}
	e := s.engine.Load()
	if e == nil {
		// SetEngine restores the copy with every other account.
		return nil
	}
	if err := s.applyConcurrency(ctx, e, to); err != nil {
		return fmt.Errorf("copy account %s to %s: %w", from, to, err)
	}
	return nil
}

// applyConcurrency puts one account's stored reservations and provisioned
// configurations into the engine. Unlike restoreConcurrency it fails on a
// setting the engine refuses: a copy that throttles differently from its
// original would grade the wrong thing.
func (s *Service) applyConcurrency(ctx context.Context, e *sandbox.Engine, account string) error {
	fns, err := s.db.ReservedConcurrencies(ctx)
	if err != nil {
		return fmt.Errorf("apply reserved concurrency: %w", err)
	}
	for _, f := range fns {
		if f.AccountID != account {
			continue
		}
		if err := e.SetReservedConcurrency(account, f.Name, f.ReservedConcurrency); err != nil {
			return fmt.Errorf("apply reserved concurrency of %s: %w", f.Name, err)
		}
	}
	pcs, err := s.db.ListProvisionedConcurrency(ctx, account, "")
	if err != nil {
		return fmt.Errorf("apply provisioned concurrency: %w", err)
	}
	for _, p := range pcs {
		if err := s.applyProvisioned(ctx, e, account, p.Function, p.Qualifier, p.Requested); err != nil {
			return fmt.Errorf("apply provisioned concurrency of %s:%s: %w", p.Function, p.Qualifier, err)
		}
	}
	return nil
}

// DeleteAccount deletes a scratch account and everything in it. It refuses
// an account that belongs to a user (store.ErrInvalid); store.ErrNotFound
// if there is no such account.
//
// The rows go first, in one transaction (store.DeleteAccount; the foreign
// keys cascade through Lambda, S3 and X-Ray), so that nothing resolves the
// account's functions afterwards. Then the engine lets go of the account
// (sandbox.Engine.DropAccount): its reservations and provisioned instances
// are released and its warm instances closed, and an invocation still
// running finishes and its instance is closed. Asynchronous events still
// queued for the account find no function when they come due and are
// dropped without a word (asyncRunner.deliver). The S3 bodies kept in files
// are named by no row once the cascade has run, and Sweep removes them
// after its grace.
func (s *Service) DeleteAccount(ctx context.Context, id string) error {
	a, err := s.db.Account(ctx, id)
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	if a.UserID != 0 {
		return fmt.Errorf("delete account %s: %w: it belongs to user %d", id, store.ErrInvalid, a.UserID)
	}
	// ErrNotFound now means another caller deleted it meanwhile; the
	// engine's state is still to be dropped.
	if err := s.db.DeleteAccount(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if e := s.engine.Load(); e != nil {
		e.DropAccount(ctx, id)
	}
	return nil
}

// ForgetAccount lets the engine go of an account whose rows are already
// gone, as a removed student's are (store.DeleteStudent): its reservations
// and provisioned instances are released and its warm instances closed.
// DeleteAccount does the same for a scratch account after deleting its
// rows. Without a running engine there is nothing to let go of.
func (s *Service) ForgetAccount(ctx context.Context, id string) {
	if e := s.engine.Load(); e != nil {
		e.DropAccount(ctx, id)
	}
}
