package lambda

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"lambdalab/cloud"
	"lambdalab/sandbox"
)

// versionConfig is what a version stores beside its code (the config column
// of lambda_versions): everything a published version freezes.
type versionConfig struct {
	Runtime       string            `json:"runtime"`
	Handler       string            `json:"handler"`
	Role          string            `json:"role"`
	Description   string            `json:"description,omitempty"`
	MemoryMB      int               `json:"memory_mb"`
	TimeoutSec    int               `json:"timeout_s"`
	EphemeralMB   int               `json:"ephemeral_mb"`
	Architecture  string            `json:"architecture"`
	Env           map[string]string `json:"env,omitempty"`
	Layers        []layerRef        `json:"layers,omitempty"`
	TracingMode   string            `json:"tracing_mode"`
	UnzippedBytes int64             `json:"unzipped_bytes"`
}

// layerRef is a layer version as a function version uses it. The package
// is pinned by its hash: a deleted layer version stays usable by the
// functions that already had it, as on Lambda.
type layerRef struct {
	ARN           string `json:"arn"`
	CodeSha256    string `json:"code_sha256"`
	CodeSize      int64  `json:"code_size"`
	UnzippedBytes int64  `json:"unzipped_bytes"`
}

func (c versionConfig) marshal() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain strings, ints and maps: cannot fail
	}
	return b
}

func parseConfig(b []byte) (versionConfig, error) {
	var c versionConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("decode function configuration: %w", err)
	}
	return c, nil
}

// sameAs reports whether publishing c after p would change nothing that a
// version freezes (Lambda's no-op publish).
func (c versionConfig) sameAs(p versionConfig) bool {
	return string(c.marshal()) == string(p.marshal())
}

// FunctionConfiguration is Lambda's FunctionConfiguration document, as the
// API returns it.
type FunctionConfiguration struct {
	FunctionName     string            `json:"FunctionName"`
	FunctionArn      string            `json:"FunctionArn"`
	Runtime          string            `json:"Runtime"`
	Role             string            `json:"Role"`
	Handler          string            `json:"Handler"`
	CodeSize         int64             `json:"CodeSize"`
	Description      string            `json:"Description"`
	Timeout          int               `json:"Timeout"`
	MemorySize       int               `json:"MemorySize"`
	LastModified     string            `json:"LastModified"`
	CodeSha256       string            `json:"CodeSha256"`
	Version          string            `json:"Version"`
	Environment      *Environment      `json:"Environment,omitempty"`
	TracingConfig    TracingConfig     `json:"TracingConfig"`
	RevisionID       string            `json:"RevisionId"`
	Layers           []Layer           `json:"Layers,omitempty"`
	State            string            `json:"State"`
	LastUpdateStatus string            `json:"LastUpdateStatus"`
	PackageType      string            `json:"PackageType"`
	Architectures    []string          `json:"Architectures"`
	EphemeralStorage EphemeralStorage  `json:"EphemeralStorage"`
	LoggingConfig    LoggingConfig     `json:"LoggingConfig"`
	SnapStart        map[string]string `json:"SnapStart"`
}

// Environment is a function's variables.
type Environment struct {
	Variables map[string]string `json:"Variables"`
}

// TracingConfig is the X-Ray tracing mode: "PassThrough" or "Active".
type TracingConfig struct {
	Mode string `json:"Mode"`
}

// Layer is a layer version attached to a function.
type Layer struct {
	Arn      string `json:"Arn"`
	CodeSize int64  `json:"CodeSize"`
}

// EphemeralStorage is the size of /tmp in MB.
type EphemeralStorage struct {
	Size int `json:"Size"`
}

// LoggingConfig says where the function's logs go.
type LoggingConfig struct {
	LogFormat string `json:"LogFormat"`
	LogGroup  string `json:"LogGroup"`
}

// lastModified is Lambda's timestamp form: 2026-12-01T09:30:00.000+0000.
func lastModified(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000-0700")
}

func functionARN(account, name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", cloud.Region, account, name)
}

func layerARN(account, name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:layer:%s", cloud.Region, account, name)
}

// ConfigInput is the settable part of a function's configuration, as
// CreateFunction and UpdateFunctionConfiguration take it. Nil fields are
// left as they are (or get Lambda's defaults on create).
type ConfigInput struct {
	Runtime          *string           `json:"Runtime"`
	Handler          *string           `json:"Handler"`
	Role             *string           `json:"Role"`
	Description      *string           `json:"Description"`
	MemorySize       *int              `json:"MemorySize"`
	Timeout          *int              `json:"Timeout"`
	Environment      *Environment      `json:"Environment"`
	Layers           *[]string         `json:"Layers"`
	TracingConfig    *TracingConfig    `json:"TracingConfig"`
	EphemeralStorage *EphemeralStorage `json:"EphemeralStorage"`
	Architectures    []string          `json:"Architectures"`
	RevisionID       string            `json:"RevisionId"`
}

var (
	roleRE     = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	nameRE     = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	aliasRE    = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	numericRE  = regexp.MustCompile(`^[0-9]+$`)
	layerNamRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,140}$`)
)

// apply sets in's fields on c, validating each as Lambda does.
func (c *versionConfig) apply(in ConfigInput) error {
	if in.Runtime != nil {
		c.Runtime = *in.Runtime
	}
	if in.Handler != nil {
		c.Handler = *in.Handler
	}
	if in.Role != nil {
		if !roleRE.MatchString(*in.Role) {
			return invalid("1 validation error detected: Value '%s' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+", *in.Role)
		}
		c.Role = *in.Role
	}
	if in.Description != nil {
		if err := checkDescription(*in.Description); err != nil {
			return err
		}
		c.Description = *in.Description
	}
	if in.MemorySize != nil {
		c.MemoryMB = *in.MemorySize
	}
	if in.Timeout != nil {
		c.TimeoutSec = *in.Timeout
	}
	if in.Environment != nil {
		c.Env = in.Environment.Variables
	}
	if in.TracingConfig != nil {
		switch in.TracingConfig.Mode {
		case "Active", "PassThrough":
			c.TracingMode = in.TracingConfig.Mode
		default:
			return invalid("1 validation error detected: Value '%s' at 'tracingConfig.mode' failed to satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]", in.TracingConfig.Mode)
		}
	}
	if in.EphemeralStorage != nil {
		c.EphemeralMB = in.EphemeralStorage.Size
	}
	if len(in.Architectures) > 0 {
		if len(in.Architectures) != 1 {
			return invalid("1 validation error detected: Value '[%s]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1", strings.Join(in.Architectures, ", "))
		}
		c.Architecture = in.Architectures[0]
	}
	if c.Role == "" {
		return invalid("The role defined for the function cannot be assumed by Lambda.")
	}
	return nil
}

func defaultConfig() versionConfig {
	return versionConfig{MemoryMB: sandbox.DefaultMemoryMB, TimeoutSec: int(sandbox.DefaultTimeout / time.Second),
		EphemeralMB: sandbox.DefaultEphemeralMB, Architecture: "x86_64", TracingMode: "PassThrough"}
}

// check validates c as the sandbox would run it (runtime, handler, limits,
// environment), with Lambda's messages.
func (c versionConfig) check(account, name string) error {
	if c.Runtime == "" {
		return invalid("Runtime is required for .zip deployment packages.")
	}
	if c.Handler == "" && c.Runtime != sandbox.RuntimeProvided {
		return invalid("Handler is required for .zip deployment packages.")
	}
	fn := sandbox.Function{AccountID: account, Name: name, Runtime: c.Runtime, Handler: c.Handler,
		MemoryMB: c.MemoryMB, Timeout: time.Duration(c.TimeoutSec) * time.Second, EphemeralMB: c.EphemeralMB,
		Architecture: c.Architecture, Env: c.Env, CodeDir: "/nonexistent"}
	for range c.Layers {
		fn.LayerDirs = append(fn.LayerDirs, "/nonexistent")
	}
	if err := fn.Validate(); err != nil {
		return fromSandbox(err)
	}
	return nil
}

// document builds the API's view of one stored version.
func document(account, name, version string, c versionConfig, sha string, size int64, rev string, modified time.Time) FunctionConfiguration {
	arn := functionARN(account, name)
	if version != "$LATEST" {
		arn += ":" + version
	}
	d := FunctionConfiguration{
		FunctionName: name, FunctionArn: arn, Runtime: c.Runtime, Role: c.Role, Handler: c.Handler,
		CodeSize: size, Description: c.Description, Timeout: c.TimeoutSec, MemorySize: c.MemoryMB,
		LastModified: lastModified(modified), CodeSha256: sha, Version: version,
		TracingConfig: TracingConfig{Mode: c.TracingMode}, RevisionID: rev,
		State: "Active", LastUpdateStatus: "Successful", PackageType: "Zip",
		Architectures:    []string{c.Architecture},
		EphemeralStorage: EphemeralStorage{Size: c.EphemeralMB},
		LoggingConfig:    LoggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + name},
		SnapStart:        map[string]string{"ApplyOn": "None", "OptimizationStatus": "Off"},
	}
	if len(c.Env) > 0 {
		vars := make(map[string]string, len(c.Env))
		for k, v := range c.Env {
			vars[k] = v
		}
		d.Environment = &Environment{Variables: vars}
	}
	for _, l := range c.Layers {
		d.Layers = append(d.Layers, Layer{Arn: l.ARN, CodeSize: l.CodeSize})
	}
	return d
}
