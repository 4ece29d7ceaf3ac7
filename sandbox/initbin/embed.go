//go:build embedinit

package initbin

import _ "embed"

//go:embed lambdalab-init
var embedded []byte
