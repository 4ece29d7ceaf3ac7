package labs

import (
	"io/fs"
	"maps"
)

// LoadSubmission reads a submission folder for lab — a student's checkout
// with the functions' code, actions.yaml and answers.yaml — checking its
// actions and answers as the lab's own variants are checked, and returns it
// as a Variant named "submission". Problems are reported as Load reports
// them, with file names relative to the folder.
func LoadSubmission(lab *Lab, fsys fs.FS, opts Options) (*Variant, error) {
	probs := &problems{}
	ll := &labLoader{
		opts:            opts,
		dir:             "",
		fsys:            cleanFS{fsys},
		probs:           probs,
		lab:             lab,
		lines:           map[lineKey]int{},
		failed:          map[lineKey]bool{},
		labOK:           true,
		createdBuckets:  cloneSet(lab.madeBuckets),
		publishedLayers: cloneSet(lab.madeLayers),
		checkpoints:     map[*Variant]set{},
		answerLines:     map[*Variant]map[string]int{},
		failLines:       map[*Variant][]int{},
	}
	v := &Variant{Name: "submission", Dir: "."}
	ll.readVariant(v)
	ll.resolveRefs()
	for q := range maps.Keys(v.Answers) {
		if !hasQuestion(lab, q) {
			probs.add("answers.yaml", ll.answerLines[v][q], "answer to %q: the lab has no such question", q)
		}
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	return v, nil
}

func hasQuestion(lab *Lab, id string) bool {
	for _, q := range lab.Questions {
		if q.ID == id {
			return true
		}
	}
	return false
}

// cloneSet copies a set, never returning nil: the loader adds to it.
func cloneSet(s set) set {
	out := set{}
	maps.Copy(out, s)
	return out
}
