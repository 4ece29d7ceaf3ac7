// Package initbin carries the small static init that becomes PID 1 in every
// sandbox instance, when lambdalab is built with `-tags embedinit` (as
// `make build` does, after building sandbox/init into this folder). Without
// the tag it carries nothing and lambdalab runs its own executable as the
// init instead, which works but costs every instance about 14 MB more
// resident memory, charged to the learner's memory limit.
package initbin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// Binary returns the embedded init executable, or nil.
func Binary() []byte { return embedded }

// Install writes the embedded init into dir (once per content) and returns
// its path; ok is false when nothing is embedded.
func Install(dir string) (path string, ok bool, err error) {
	if len(embedded) == 0 {
		return "", false, nil
	}
	sum := sha256.Sum256(embedded)
	path = filepath.Join(dir, "lambdalab-init-"+hex.EncodeToString(sum[:6]))
	if st, err := os.Stat(path); err == nil && st.Size() == int64(len(embedded)) {
		return path, true, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", true, fmt.Errorf("install sandbox init: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".init-*")
	if err != nil {
		return "", true, fmt.Errorf("install sandbox init: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(embedded); err != nil {
		tmp.Close()
		return "", true, fmt.Errorf("install sandbox init: %w", err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", true, fmt.Errorf("install sandbox init: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", true, fmt.Errorf("install sandbox init: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", true, fmt.Errorf("install sandbox init: %w", err)
	}
	return path, true, nil
}
