package sandbox

import (
	"context"
	"time"
)

// Instances started ahead of time belong to nobody until a cold start binds
// one: the container start (about a quarter of a second with Docker) is then
// off the cold-start path, and what remains is what Lambda calls init.

// prestartMemMB is what an unbound instance counts against the machine's
// memory budget until it is bound.
const prestartMemMB = MinMemoryMB

func (e *Engine) signalPrestart() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// keepPrestarted keeps Config.Prestart unbound instances ready.
func (e *Engine) keepPrestarted(ctx context.Context) {
	defer e.wg.Done()
	if e.cfg.Prestart <= 0 {
		return
	}
	backoff := time.Duration(0)
	for {
		need := e.roomFor(prestartMemMB, DefaultEphemeralMB)
		e.mu.Lock()
		// Room a cold start waits for is never spent on a spare.
		want := !e.closed && len(e.waiters) == 0 && len(e.prestarted)+e.starting < e.cfg.Prestart && e.hasRoomLocked(need)
		if want {
			e.starting++
			e.takeRoomLocked("", need)
		}
		e.mu.Unlock()
		if want {
			// Not cancelled by Close: a start cut off halfway could leave a
			// container the backend never learnt the id of.
			startCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			who := &callerID{}
			in := &instance{who: who, took: need, fn: Function{EphemeralMB: DefaultEphemeralMB}, since: e.cfg.Now()}
			inst, err := e.backend.Start(startCtx, InstanceSpec{EphemeralMB: DefaultEphemeralMB, AWS: e.awsFor(who), XRay: e.xrayFor(who)})
			cancel()
			e.mu.Lock()
			e.starting--
			e.mu.Unlock()
			if err != nil {
				e.forget(ctx, in)
				if ctx.Err() != nil {
					return
				}
				backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
				e.logger.WarnContext(ctx, "prestart instance", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return
				}
				continue
			}
			backoff = 0
			who.instanceID = inst.ID()
			in.inst = inst
			e.mu.Lock()
			if e.closed {
				e.mu.Unlock()
				e.destroy(ctx, in)
				return
			}
			e.prestarted = append(e.prestarted, in)
			// Cold starts that queued while it started are owed it.
			victims := e.dispatchLocked()
			e.mu.Unlock()
			e.destroyAll(ctx, victims)
			continue
		}
		select {
		case <-e.kick:
		case <-ctx.Done():
			return
		}
	}
}

// SetProvisionedConcurrency keeps n instances of one published version
// initialised ahead of time (zero removes the configuration). Like Lambda's
// PutProvisionedConcurrencyConfig it returns at once; ProvisionedConcurrency
// reports the allocation as it rises.
func (e *Engine) SetProvisionedConcurrency(ctx context.Context, fn Function, n int) error {
	fn = fn.withDefaults()
	if err := fn.Validate(); err != nil {
		return err
	}
	if fn.Version == "$LATEST" {
		return &APIError{Type: "InvalidParameterValueException", Status: 400, Message: "Provisioned Concurrency Configs cannot be applied to unpublished function versions."}
	}
	if n < 0 {
		return &APIError{Type: "InvalidParameterValueException", Status: 400, Message: "ProvisionedConcurrentExecutions must be 0 or more"}
	}
	key := fn.digest()
	e.mu.Lock()
	if p := e.pools[key]; p == nil || n > p.provisioned {
		// Lowering is always allowed: it only gives back.
		if err := e.provisionedAllowedLocked(fn, key, n); err != nil {
			e.mu.Unlock()
			return err
		}
	}
	p := e.pools[key]
	if p == nil {
		p = &pool{fn: fn}
		e.pools[key] = p
	}
	p.provisioned = n
	// Lowering the setting releases the surplus to ordinary idle reclaim.
	surplus := e.provisionedAliveLocked(key) - n
	for _, in := range p.idle {
		if surplus <= 0 {
			break
		}
		if in.provisioned {
			in.provisioned = false
			e.provAlive[key]--
			surplus--
		}
	}
	victims := e.dispatchLocked() // the surplus may be owed to a waiter
	e.mu.Unlock()
	e.destroyAll(ctx, victims)
	e.wg.Add(1)
	go e.provision(context.WithoutCancel(ctx), key)
	return nil
}

// provisionedAliveLocked counts the provisioned instances of a pool, busy
// ones included.
func (e *Engine) provisionedAliveLocked(key string) int {
	return e.provAlive[key]
}

// ProvisionedConcurrency reports how many instances were asked for and how
// many are initialised (Lambda's Requested… and Allocated…ConcurrentExecutions).
func (e *Engine) ProvisionedConcurrency(fn Function) (requested, allocated int) {
	fn = fn.withDefaults()
	key := fn.digest()
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.pools[key]; p != nil {
		requested = p.provisioned
	}
	return requested, e.provAlive[key]
}

// provision initialises instances until the pool holds its provisioned count.
func (e *Engine) provision(ctx context.Context, key string) {
	defer e.wg.Done()
	for failures := 0; failures < 3; {
		e.mu.Lock()
		p := e.pools[key]
		if e.closed || p == nil || e.provAlive[key]+p.provBusy >= p.provisioned {
			e.mu.Unlock()
			return
		}
		p.provBusy++
		fn := p.fn
		e.mu.Unlock()

		in, ir, err := e.coldStart(ctx, fn, "provisioned-concurrency")
		e.mu.Lock()
		p.provBusy--
		e.mu.Unlock()
		if err != nil || ir.Status != StatusSuccess {
			failures++
			e.logger.WarnContext(ctx, "provisioned instance failed to initialise", "function", fn.Name, "version", fn.Version, "err", err, "init_status", string(ir.Status))
			if in != nil {
				e.destroy(ctx, in)
			}
			continue
		}
		in.provisioned = true
		e.mu.Lock()
		e.provAlive[key]++
		e.mu.Unlock()
		e.park(ctx, in)
	}
}
