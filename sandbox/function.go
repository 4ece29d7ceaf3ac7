package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"lambdalab/facts"
)

// Lambda's configuration limits (reference/lambda-behaviour.md §0 and §7),
// taken from facts so the course quotes the limits enforced here.
const (
	MinMemoryMB        = facts.MinMemoryMB
	MaxMemoryMB        = facts.MaxMemoryMB
	DefaultMemoryMB    = facts.DefaultMemoryMB
	MinTimeout         = facts.MinTimeout
	MaxTimeout         = facts.MaxTimeout
	DefaultTimeout     = facts.DefaultTimeout
	MinEphemeralMB     = facts.MinEphemeralMB
	MaxEphemeralMB     = facts.MaxEphemeralMB
	DefaultEphemeralMB = facts.DefaultEphemeralMB
	MaxEnvBytes        = facts.MaxEnvBytes
	MaxLayers          = facts.MaxLayers
	// MaxSyncPayload is the largest synchronous request Invoke accepts.
	MaxSyncPayload = facts.MaxSyncPayload
	// MaxResponsePayload is the Runtime API's cap on a response body
	// (6 MiB plus 100 bytes, as Lambda's own init enforces).
	MaxResponsePayload = 6291556
	// MaxLogBytes is how much of one invocation's output (or one init's) is
	// kept; the backend drops the rest and the log says how much.
	MaxLogBytes = 1 << 20
	// InitTimeout is how long an on-demand environment's init may take.
	InitTimeout = facts.InitTimeout
	// MBPerVCPU is the memory size at which a function gets one full vCPU.
	MBPerVCPU = facts.MBPerVCPU
)

// Runtimes lambdalab runs.
const (
	RuntimePython313 = "python3.13"
	RuntimeNodejs20  = "nodejs20.x"
	RuntimeProvided  = "provided"
)

// Function is one version of a function, resolved: everything the sandbox
// needs to run it. The account layer (a later package) stores functions and
// builds these; the sandbox never changes them.
type Function struct {
	AccountID string // 12 digits
	Region    string // zero means us-east-1
	Name      string
	Version   string // "$LATEST" or "1", "2", …

	Runtime      string
	Handler      string
	MemoryMB     int           // zero means 128
	Timeout      time.Duration // zero means 3 s
	EphemeralMB  int           // zero means 512
	Architecture string        // "x86_64" (zero) or "arm64": only the price differs here
	Env          map[string]string

	// CodeDir is a host directory holding the extracted deployment package;
	// LayerDirs are extracted layers in the order they are merged into /opt.
	CodeDir    string
	LayerDirs  []string
	CodeSha256 string
}

// withDefaults fills the zero values with Lambda's defaults.
func (f Function) withDefaults() Function {
	if f.Region == "" {
		f.Region = "us-east-1"
	}
	if f.Version == "" {
		f.Version = "$LATEST"
	}
	if f.MemoryMB == 0 {
		f.MemoryMB = DefaultMemoryMB
	}
	if f.Timeout == 0 {
		f.Timeout = DefaultTimeout
	}
	if f.EphemeralMB == 0 {
		f.EphemeralMB = DefaultEphemeralMB
	}
	if f.Architecture == "" {
		f.Architecture = "x86_64"
	}
	return f
}

var (
	functionNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	versionRE      = regexp.MustCompile(`^(\$LATEST|[0-9]{1,10})$`)
	handlerRE      = regexp.MustCompile(`^[A-Za-z0-9_./-]+\.[A-Za-z_$][A-Za-z0-9_$]*$`)
	envKeyRE       = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]+$`)
	accountRE      = regexp.MustCompile(`^[0-9]{12}$`)
)

// reservedEnv lists the variables Lambda sets itself and refuses from users
// (reference/lambda-behaviour.md §2.1).
var reservedEnv = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_REGION": true, "AWS_DEFAULT_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true,
	"AWS_LAMBDA_LOG_GROUP_NAME": true, "AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true,
	"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true,
	"AWS_LAMBDA_RUNTIME_API": true, "LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

// Validate checks a function configuration against Lambda's rules. The
// errors are Lambda's InvalidParameterValueException messages, worded for
// the person who configured the function.
func (f Function) Validate() error {
	f = f.withDefaults()
	bad := func(format string, args ...any) error {
		return &APIError{Type: "InvalidParameterValueException", Status: 400, Message: fmt.Sprintf(format, args...)}
	}
	if !accountRE.MatchString(f.AccountID) {
		return bad("account id %q is not 12 digits", f.AccountID)
	}
	if !functionNameRE.MatchString(f.Name) {
		return bad("function name %q must be 1 to 64 letters, digits, hyphens or underscores", f.Name)
	}
	if !versionRE.MatchString(f.Version) {
		return bad("version %q must be $LATEST or a number", f.Version)
	}
	switch f.Runtime {
	case RuntimePython313, RuntimeNodejs20:
		if !handlerRE.MatchString(f.Handler) || strings.Contains(f.Handler, "..") || strings.HasPrefix(f.Handler, "/") {
			return bad("handler %q must look like file.function (for example app.lambda_handler)", f.Handler)
		}
	case RuntimeProvided:
		if len(f.Handler) > 128 {
			return bad("handler must be at most 128 characters")
		}
	default:
		return bad("runtime %q is not supported here; use %s, %s or %s", f.Runtime, RuntimePython313, RuntimeNodejs20, RuntimeProvided)
	}
	if f.MemoryMB < MinMemoryMB || f.MemoryMB > MaxMemoryMB {
		return bad("MemorySize %d MB must be between %d and %d", f.MemoryMB, MinMemoryMB, MaxMemoryMB)
	}
	if f.Timeout < MinTimeout || f.Timeout > MaxTimeout || f.Timeout%time.Second != 0 {
		return bad("Timeout %v must be a whole number of seconds between 1 and 900", f.Timeout)
	}
	if f.EphemeralMB < MinEphemeralMB || f.EphemeralMB > MaxEphemeralMB {
		return bad("EphemeralStorage %d MB must be between %d and %d", f.EphemeralMB, MinEphemeralMB, MaxEphemeralMB)
	}
	if f.Architecture != "x86_64" && f.Architecture != "arm64" {
		return bad("architecture %q must be x86_64 or arm64", f.Architecture)
	}
	if len(f.LayerDirs) > MaxLayers {
		return bad("a function can use at most %d layers, not %d", MaxLayers, len(f.LayerDirs))
	}
	if f.CodeDir == "" {
		return bad("function %s has no code", f.Name)
	}
	size := 0
	for k, v := range f.Env {
		if !envKeyRE.MatchString(k) {
			return bad("environment variable name %q must start with a letter and hold only letters, digits and underscores (2 characters or more)", k)
		}
		if reservedEnv[k] {
			return bad("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", k)
		}
		size += len(k) + len(v)
	}
	if size > MaxEnvBytes {
		return bad("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %d bytes", size)
	}
	return nil
}

// ARN is the function's unqualified ARN.
func (f Function) ARN() string {
	f = f.withDefaults()
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", f.Region, f.AccountID, f.Name)
}

// digest identifies everything that shapes an execution environment: two
// functions with the same digest can share warm instances (they are the same
// version of the same function of the same learner).
func (f Function) digest() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%d\x00%d\x00%d\x00%s\x00%s\x00",
		f.AccountID, f.Region, f.Name, f.Version, f.Runtime, f.Handler, f.MemoryMB, f.Timeout, f.EphemeralMB, f.CodeDir, f.CodeSha256)
	for _, l := range f.LayerDirs {
		fmt.Fprintf(h, "layer\x00%s\x00", l)
	}
	keys := make([]string, 0, len(f.Env))
	for k := range f.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "env\x00%s\x00%s\x00", k, f.Env[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// NanoCPUs is the CPU share Lambda gives a function of memMB: one vCPU at
// 1,769 MB, in proportion below and above.
func NanoCPUs(memMB int) int64 {
	return int64(memMB) * 1e9 / MBPerVCPU
}

// NewRequestID returns a random UUID (version 4), Lambda's form for request
// and revision ids.
func NewRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// logStreamName is Lambda's per-environment stream name:
// YYYY/MM/DD/[version]32-hex.
func logStreamName(now time.Time, version string) string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/[%s]%x", now.UTC().Format("2006/01/02"), version, b)
}
