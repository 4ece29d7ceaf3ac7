// Package codepkg stores Lambda deployment packages (function code and layer
// zips) on disk, addressed by content, and unpacks them so that a hostile
// upload cannot escape its tree, fill the disk or plant anything the
// sandbox user cannot read.
//
// A package is kept twice: the zip exactly as uploaded (Lambda's CodeSha256
// and CodeSize are computed over those bytes, and GetFunction hands them
// back) and the extracted tree that the sandbox bind-mounts read-only at
// /var/task or merges into /opt. The same bytes are stored once, however
// many functions, versions or layers use them.
//
// It knows nothing about functions, versions, layers, accounts, HTTP or
// Docker: callers pass zip bytes and a size budget, get back a Package, and
// say in Sweep which packages are still referenced. It imports no other
// lambdalab package. Limits and wordings follow
// reference/lambda-behaviour.md §7 and §12 and the attack catalogue in
// reference/sandbox-profile.md §7 (rows 16 to 20).
//
// # What an extracted tree looks like
//
// Only directories, regular files and symlinks are extracted. Modes are
// normalised rather than copied: directories become 0555, files 0444, or
// 0555 when the zip gave them any execute bit. Setuid, setgid and sticky
// bits never survive, and every file is readable by any uid, so the
// unprivileged sandbox user (993) can always read the code. Real Lambda
// keeps the zip's permission bits, so a file zipped as -r-------- fails
// there at run time; lambdalab is kinder in that one respect. Execute bits
// are kept as Lambda keeps them: a custom runtime's bootstrap must carry the
// x bit in the zip. Zips made on Windows carry no Unix modes, so everything
// in them, bootstrap included, comes out 0444, and a custom runtime zipped
// on Windows fails with "permission denied", as it does on Lambda.
//
// Nothing in a tree is writable, not even by the store's owner: the tree
// behind a CodeSha256 must never change, and a platform bug that writes
// into it would silently change every function sharing it. Removal
// (Sweep, cleanup of failed puts) opens directories up again first.
//
// Modification times are kept from the zip, so that a package shipping
// __pycache__ next to its sources keeps valid .pyc files.
//
// # Entries that are refused
//
// Any of these makes the whole upload fail with an [*Error]: names with a
// ".." element, absolute names ("/etc/x", "C:\x", `\\server\x`; backslashes
// count as separators, as the Windows tools that write them mean them),
// names with NUL bytes or longer than [MaxNameLen]; an entry that lies
// inside an earlier symlink entry, or whose name is used by an entry of
// another type (a file "a" and a file "a/b"); devices, fifos and sockets;
// symlinks whose target is absolute or, followed from where the link lies,
// leaves the tree (Lambda accepts symlinks in zips, so local ones are kept);
// more than [MaxEntries] entries or names more than 128 levels deep; and
// more unzipped bytes than the budget.
//
// When two entries have the same name and type, the later one wins, as
// with unzip(1) and Python's zipfile, which is what a learner's tools are
// likely to assume. Only the winner is extracted, and only it counts
// towards the unzipped size.
package codepkg
