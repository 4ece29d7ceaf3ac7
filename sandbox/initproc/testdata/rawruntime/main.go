// Command rawruntime is a minimal custom runtime that the initproc tests run
// under init. Each event says what to do, so a test controls exactly what is
// printed before and after the response.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
)

type event struct {
	Before string `json:"before"`
	After  string `json:"after"`
	Flood  int    `json:"flood"`
	Exit   *int   `json:"exit"`
	Kill   bool   `json:"kill"`
	Probe  string `json:"probe"`
	XRay   string `json:"xray"`
	Orphan bool   `json:"orphan"`
	Big    int    `json:"big"`
}

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	fmt.Fprintln(os.Stdout, "init-out")
	fmt.Fprintln(os.Stderr, "init-err")
	for {
		resp, err := http.Get(api + "next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "next:", err)
			os.Exit(2)
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var e event
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()

		if e.Before != "" {
			fmt.Fprintln(os.Stdout, e.Before)
		}
		if e.Flood > 0 {
			chunk := bytes.Repeat([]byte("z"), 64<<10)
			for n := e.Flood; n > 0; n -= len(chunk) {
				os.Stdout.Write(chunk[:min(n, len(chunk))])
			}
		}
		if e.Orphan {
			cmd := exec.Command("sleep", "1000")
			cmd.Start()
			fmt.Fprintf(os.Stdout, "child=%d\n", cmd.Process.Pid)
		}
		if e.Kill {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		if e.Exit != nil {
			os.Exit(*e.Exit)
		}
		result := map[string]any{"id": id, "pid": os.Getpid()}
		if e.Probe != "" {
			r, err := http.Get("http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + e.Probe)
			if err == nil {
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				result["probe"] = r.StatusCode
			}
		}
		if e.XRay != "" {
			if c, err := net.Dial("udp", os.Getenv("AWS_XRAY_DAEMON_ADDRESS")); err == nil {
				c.Write([]byte(e.XRay))
				c.Close()
			}
		}
		body, _ := json.Marshal(result)
		if e.Big > 0 {
			body = bytes.Repeat([]byte("b"), e.Big)
		}
		r, err := http.Post(api+id+"/response", "application/json", bytes.NewReader(body))
		if err != nil {
			os.Exit(3)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if e.After != "" {
			fmt.Fprintln(os.Stderr, e.After)
		}
	}
}
