package docker

import (
	"path/filepath"

	"lambdalab/sandbox/instdir"
)

// listenXRay binds the instance's xray.sock and starts passing datagrams
// to sink (instdir.ListenXRay). A nil sink binds nothing: init then drops
// what the function sends, as UDP to a port nobody listens on would.
func (in *Instance) listenXRay(sink func([]byte)) error {
	if sink == nil {
		return nil
	}
	// The sandbox user sends to it; no other host user may (sockets.go).
	r, err := instdir.ListenXRay(filepath.Join(in.dir, instdir.SockDir, instdir.XRaySocketName), sink, in.b.sock.protectSocket)
	if err != nil {
		return err
	}
	in.xray = r
	return nil
}

// XRayStats reports how many datagrams this instance's relay passed to the
// sink and how many it dropped (too large or over the rate).
func (in *Instance) XRayStats() (passed, dropped int64) {
	if in.xray == nil {
		return 0, 0
	}
	return in.xray.Stats()
}
