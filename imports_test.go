package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules holds the package boundaries DESIGN.md draws: only
// sandbox/docker imports the Docker SDK, only sandbox/kubernetes the
// Kubernetes libraries, only store imports database/sql, a
// parent never imports its subpackage, and the leaf packages import no other
// lambdalab package.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string
		Deps       []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	leaves := map[string]bool{"lambdalab/store": true, "lambdalab/content": true, "lambdalab/sandbox/runtimeapi": true,
		"lambdalab/cloud": true, "lambdalab/cloud/sigv4": true, "lambdalab/cloud/codepkg": true}
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/docker/") && p.ImportPath != "lambdalab/sandbox/docker" {
				t.Errorf("%s imports %s: only lambdalab/sandbox/docker may use the Docker SDK", p.ImportPath, imp)
			}
			// Kubernetes' client libraries are big; they stay in the
			// backend that speaks to a cluster and its test harness, so the
			// binary carries them only once main wires that backend.
			if (strings.HasPrefix(imp, "k8s.io/") || strings.HasPrefix(imp, "sigs.k8s.io/")) &&
				p.ImportPath != "lambdalab/sandbox/kubernetes" && !strings.HasPrefix(p.ImportPath, "lambdalab/sandbox/kubernetes/") {
				t.Errorf("%s imports %s: only lambdalab/sandbox/kubernetes may use the Kubernetes libraries", p.ImportPath, imp)
			}
			if imp == "database/sql" && p.ImportPath != "lambdalab/store" {
				t.Errorf("%s imports database/sql: only lambdalab/store may", p.ImportPath)
			}
			// main wires everything, and web renders through its templ
			// components in web/ui (DESIGN.md's import directions).
			parentOK := p.ImportPath == "lambdalab" || (p.ImportPath == "lambdalab/web" && imp == "lambdalab/web/ui")
			if strings.HasPrefix(imp, p.ImportPath+"/") && !parentOK {
				t.Errorf("%s imports its own subpackage %s", p.ImportPath, imp)
			}
			// The execution environment never knows the account's
			// services (DESIGN.md: sandbox beside cloud, not under it).
			if (p.ImportPath == "lambdalab/sandbox" || strings.HasPrefix(p.ImportPath, "lambdalab/sandbox/")) && strings.HasPrefix(imp, "lambdalab/cloud") {
				t.Errorf("%s imports %s: the sandbox must not know the account's services", p.ImportPath, imp)
			}
			// The services stand on the sandbox and the store, never on
			// the site or the grader.
			if strings.HasPrefix(p.ImportPath, "lambdalab/cloud") && strings.HasPrefix(imp, "lambdalab/") &&
				!strings.HasPrefix(imp, "lambdalab/cloud") && imp != "lambdalab/sandbox" && imp != "lambdalab/store" && imp != "lambdalab/facts" {
				t.Errorf("%s imports %s: cloud packages may import only cloud/..., sandbox, store and facts", p.ImportPath, imp)
			}
			// facts is the table of Lambda's figures every package may
			// quote, leaves included; it imports nothing of lambdalab.
			if leaves[p.ImportPath] && strings.HasPrefix(imp, "lambdalab/") && imp != "lambdalab/facts" {
				t.Errorf("%s must import no other lambdalab package but facts, yet imports %s", p.ImportPath, imp)
			}
			if p.ImportPath == "lambdalab/facts" && strings.HasPrefix(imp, "lambdalab/") {
				t.Errorf("lambdalab/facts must import no other lambdalab package, but imports %s", imp)
			}
			// calculator is the course's pure arithmetic over facts.
			if p.ImportPath == "lambdalab/calculator" && strings.HasPrefix(imp, "lambdalab/") && imp != "lambdalab/facts" {
				t.Errorf("lambdalab/calculator may import only lambdalab/facts, but imports %s", imp)
			}
		}
		if p.ImportPath == "lambdalab/sandbox" || p.ImportPath == "lambdalab/content" || p.ImportPath == "lambdalab/store" {
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "github.com/docker/") {
					t.Errorf("%s depends on %s: Docker must stay behind sandbox/docker", p.ImportPath, d)
				}
			}
		}
	}
}
