// Package sandbox emulates Lambda execution: limits, instances, concurrency,
// invocation, REPORT lines and billing. It knows nothing about Docker; a
// Backend (see sandbox/docker) provides execution environments.
//
// # Security
//
// What a function learns about the host from /proc and /sys is accepted
// under runc (TestAttacks/Recon records it): the host's memory and CPU
// count, its kernel release, its block devices, Docker's overlay paths, and the
// paths (not the contents) of the instance's own bind mounts under the data
// folder. It does not see other processes, network interfaces other than
// lo, the host's cgroup paths (the cgroup namespace is private) or the
// kernel's memory. Under gVisor, /proc shows the sandbox's own memory limit
// instead of the host's.
//
// # Sharing one machine among many learners
//
// Lambda has no machine to fill; lambdalab does, and a class of 20 to 200
// learners shares it. An account's Lambda limits (its concurrency,
// reserved and provisioned concurrency) are checked first and throttle the
// way Lambda does. Then the machine's budgets (Config.MaxInstances,
// HostMemoryMB, HostCPUs and DiskBudgetMB) decide whether an instance may
// start; every instance alive counts against all four, prestarted and idle
// ones included, at its memory, its CPU quota and its /tmp size.
//
// While the machine has room, a cold start takes it at once: nobody is
// held back from an idle machine. When it has none, room is shared max-min
// fairly by account:
//
//   - An account's demand is its busy and provisioned instances, its idle
//     instances used in the last 30 seconds (a learner between two invokes
//     will want it again) and its waiting cold starts. Its share is its
//     demand or the common water level, whichever is less, the level chosen
//     so the shares fill the budget: 16 instances among accounts wanting
//     10, 10 and 1 are shared 7.5, 7.5 and 1. Instances and memory are
//     shared alike, and an account's standing is the larger of its two
//     ratios of holdings to share, so neither can be hogged.
//   - Idle instances are evicted before anyone is refused, never a
//     provisioned one: prestarted spares first, then, least recently used
//     first, idle instances that are nobody's demand any more, then those
//     of accounts above their share, then the rest. A recently used idle
//     instance moves only from a richer account to a poorer one (or to its
//     own account's other function): a burst by an account that has its
//     share does not strip its neighbours of their warm instances. A move
//     that would only swap holdings (one instance from an account holding
//     one to an account holding none) waits until the instance has been
//     with its account for a second (minResidency), and dispatch runs again
//     when that passes.
//   - Only then does a cold start wait. Room that frees (an instance
//     destroyed, or one going idle while others wait) goes to the waiter
//     whose account is furthest below its share, among equals the account
//     served longest ago (then the earliest waiter), not to whoever asked
//     first, and not back to the account whose invocation just ended. A later waiter never slips past the neediest
//     into room it is waiting to fill.
//   - A cold start of an account at or above its share while another
//     account waits below its own is refused at once with ErrCapacity: it
//     would not get the room, and waiting out CapacityWait only delays its
//     caller. A waiter that gets no room within CapacityWait is refused
//     the same way.
//
// Why: first come, first served let two accounts bursting at their limits
// with slow handlers keep every slot, since their instances went straight
// back to them warm, and every other learner got a 2 s wait and then the
// error. Max-min is the fairness a class expects (whoever asks little gets
// all of it, the rest is split evenly among the heavy users) and it stays
// work-conserving: a lone learner may use the whole machine. Busy instances
// are never preempted: Lambda never kills a running invocation for someone
// else, so an account above its share gives its surplus back as its
// invocations end, at most its timeout later.
//
// The residency and the longest-unserved order are what make the sharing
// useful when more accounts want instances than the machine has: without
// the residency every warm instance went to the next account at its first
// idle moment, so nearly every invoke was a cold start (BenchmarkFairness:
// 208 invokes in a minute, Jain's index 0.82); without the order, cold
// starts that gave up after CapacityWait went to the back of the line and
// a few accounts kept winning the turns (index 0.73). With both: 6,516
// invokes, index 0.98, all 29 well-behaved accounts served.
//
// Provisioned concurrency is initialised and kept whatever the load, so it
// is bounded ahead: it counts against the function's reservation, or else
// against the account's unreserved concurrency (Lambda's
// InvalidParameterValueException messages when over), and all accounts'
// together against Config.MaxProvisioned, half of MaxInstances unless set,
// which has no Lambda equivalent and is refused with ErrCapacity. So
// instances nobody can evict never fill the machine.
//
// Every refusal for the machine's sake wraps ErrCapacity, which says the
// lambdalab machine is busy; cloud/lambda answers it with a 503 that says
// so, never with a Lambda throttle the learner's account did not earn.
package sandbox
