// Command init is PID 1 inside every lambdalab instance; see
// sandbox/initproc. Build it static: CGO_ENABLED=0 go build ./sandbox/init
package main

import "lambdalab/sandbox/initproc"

func main() { initproc.Main() }
