// Package sandbox emulates Lambda execution: limits, instances, concurrency,
// invocation, REPORT lines and billing. It knows nothing about Docker; a
// Backend (see sandbox/docker) provides execution environments.
package sandbox
