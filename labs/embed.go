package labs

import (
	"embed"
	"io/fs"
)

// all: keeps files whose names start with "_" or ".", such as a Python
// package's __init__.py. The Go files, FORMAT.md and testdata/ come along;
// Load ignores them.
//
//go:embed all:*
var embedded embed.FS

// Embedded returns the labs built into the binary, one folder per lab.
func Embedded() fs.FS { return embedded }
