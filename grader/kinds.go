package grader

import (
	"maps"

	"lambdalab/labs"
)

// kinds is every step kind, by the name labs write.
var kinds = func() map[string]Kind {
	all := maps.Clone(actionKinds)
	for name, k := range inspectKinds {
		if _, dup := all[name]; dup {
			panic("grader: step kind " + name + " defined twice")
		}
		all[name] = k
	}
	return all
}()

// LabKinds is the step vocabulary for the labs loader.
func LabKinds() map[string]labs.StepKind {
	out := make(map[string]labs.StepKind, len(kinds))
	for name, k := range kinds {
		out[name] = k.StepKind
	}
	return out
}
