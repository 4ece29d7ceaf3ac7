package sandbox

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Addresses inside every instance. The in-container init relays them to the
// host over Unix sockets (DESIGN.md, "In-container init"): Lambda's own
// values are 127.0.0.1:9001 for the Runtime API and 169.254.79.129:2000 for
// the X-Ray daemon; the instance has no interface but loopback, so the
// daemon is on loopback too.
const (
	runtimeAPIAddr = "127.0.0.1:9001"
	xrayAddr       = "127.0.0.1:2000"
)

// runtimeEnv is the environment a function's runtime starts with, as Lambda
// sets it (reference/lambda-behaviour.md §2.1): the user's variables first,
// then Lambda's reserved ones, which users cannot override.
func runtimeEnv(fn Function, initType, logStream string, runtimeVars []string) []string {
	vars := map[string]string{
		"LANG":            "en_US.UTF-8",
		"PATH":            "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
		"TZ":              ":UTC",

		"AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
		"AWS_XRAY_DAEMON_ADDRESS":  xrayAddr,
		"_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
		"_AWS_XRAY_DAEMON_PORT":    "2000",
		// The emulated AWS services answer on the same relayed port, so SDKs
		// inside the function reach this learner's account and nothing else.
		"AWS_ENDPOINT_URL": "http://" + runtimeAPIAddr,
	}
	for _, kv := range runtimeVars {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	for k, v := range fn.Env {
		vars[k] = v
	}
	key, secret, token := instanceCredentials()
	reserved := map[string]string{
		"_HANDLER":                        fn.Handler,
		"AWS_REGION":                      fn.Region,
		"AWS_DEFAULT_REGION":              fn.Region,
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION":     fn.Version,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  initType,
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      logStream,
		"AWS_LAMBDA_RUNTIME_API":          runtimeAPIAddr,
		"LAMBDA_TASK_ROOT":                "/var/task",
		"LAMBDA_RUNTIME_DIR":              "/var/runtime",
		"AWS_ACCESS_KEY_ID":               key,
		"AWS_ACCESS_KEY":                  key,
		"AWS_SECRET_ACCESS_KEY":           secret,
		"AWS_SESSION_TOKEN":               token,
	}
	for k, v := range reserved {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// instanceCredentials makes the execution role's temporary credentials. The
// emulated AWS endpoint knows the caller by the socket it came in on, not by
// these keys, so they only need to look like real ones to the SDKs.
func instanceCredentials() (key, secret, token string) {
	r := func(n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
	}
	return "ASIA" + r(10)[:16], r(30)[:40], fmt.Sprintf("IQoJb3JpZ2luX2Vj%s", r(60))
}
