//go:build !embedinit

package initbin

var embedded []byte
