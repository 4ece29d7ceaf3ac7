package labs

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// checkCode checks that each function's code folder is in the starter and
// the solution, and that both define its handler. Wrong variants may lack
// either on purpose.
func (ll *labLoader) checkCode() {
	file := ll.file("lab.md")
	for i, fn := range ll.lab.Functions {
		lines := ll.fnLines[i]
		if fn.Name == "" || fn.Handler == "" || handlerSyntax(fn.Runtime, fn.Handler) != "" || !fs.ValidPath(fn.Code) {
			continue
		}
		for _, v := range []*Variant{ll.lab.Starter, ll.lab.Solution} {
			if v == nil {
				continue
			}
			dir := path.Join(v.Dir, fn.Code)
			if info, err := fs.Stat(ll.fsys, dir); err != nil || !info.IsDir() {
				ll.probs.add(file, lines.code, "function %q: code folder %q is missing from %s/", fn.Name, fn.Code, v.Dir)
				continue
			}
			if msg := handlerProblem(ll.fsys, dir, fn.Runtime, fn.Handler); msg != "" {
				ll.probs.add(file, lines.handler, "function %q: handler %s: %s", fn.Name, fn.Handler, msg)
			}
		}
	}
}

// handlerProblem says why the code in dir does not define handler, or "".
// It reads the source as text: good enough to catch a renamed file or
// function, without running a Python or Node.js parser.
func handlerProblem(fsys fs.FS, dir, runtime, handler string) string {
	mod, name, _ := cutLast(handler, ".")
	switch {
	case strings.HasPrefix(runtime, "python"):
		p := strings.ReplaceAll(mod, ".", "/")
		file, src := firstFile(fsys, dir, p+".py", p+"/__init__.py")
		if file == "" {
			return fmt.Sprintf("%s/ has neither %s.py nor %s/__init__.py", dir, p, p)
		}
		q := regexp.QuoteMeta(name)
		if !regexp.MustCompile(`(?m)^(?:async[ \t]+)?def[ \t]+` + q + `[ \t]*\(|^` + q + `[ \t]*=`).MatchString(src) {
			return fmt.Sprintf("%s has no top-level \"def %s(\"", file, name)
		}
	case strings.HasPrefix(runtime, "nodejs"):
		file, src := firstFile(fsys, dir, mod+".js", mod+".mjs", mod+".cjs")
		if file == "" {
			return fmt.Sprintf("%s/ has no %s.js, %s.mjs or %s.cjs", dir, mod, mod, mod)
		}
		if !jsExports(src, name) {
			return fmt.Sprintf("%s does not export %s (as in \"export const %s = async (event) => …\" or \"exports.%s = …\")", file, name, name, name)
		}
	case strings.HasPrefix(runtime, "provided"):
		info, err := fs.Stat(fsys, path.Join(dir, "bootstrap"))
		if err != nil || info.IsDir() {
			return fmt.Sprintf("%s/ has no bootstrap file, the executable a provided runtime starts", dir)
		}
	}
	return ""
}

// jsExports reports whether JavaScript source exports name in one of the
// common ways, CommonJS or ES modules.
func jsExports(src, name string) bool {
	q := regexp.QuoteMeta(name)
	for _, p := range []string{
		`\bexports\.` + q + `\s*=`,                                // exports.handler = / module.exports.handler =
		`\bexports\[\s*["']` + q + `["']\s*\]\s*=`,                // exports["handler"] =
		`\bmodule\.exports\s*=\s*\{[^}]*\b` + q + `\b`,            // module.exports = { handler }
		`\bexport\s+(?:async\s+)?function\s*\*?\s*` + q + `\s*\(`, // export async function handler(
		`\bexport\s+(?:const|let|var)\s+` + q + `\b`,              // export const handler =
		`\bexport\s*\{[^}]*\b` + q + `\b[^}]*\}`,                  // export { handler } / export { main as handler }
	} {
		if regexp.MustCompile(p).MatchString(src) {
			return true
		}
	}
	return false
}

// firstFile returns the path and text of the first of names that is a
// file in dir, or "".
func firstFile(fsys fs.FS, dir string, names ...string) (string, string) {
	for _, n := range names {
		p := path.Join(dir, n)
		if b, err := fs.ReadFile(fsys, p); err == nil {
			return p, string(b)
		}
	}
	return "", ""
}
