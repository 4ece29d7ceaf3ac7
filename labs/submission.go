package labs

import (
	"io/fs"
	"maps"
	"reflect"
	"strings"
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
		createdBuckets:  set{},
		publishedLayers: set{},
		checkpoints:     map[*Variant]set{},
		answerLines:     map[*Variant]map[string]int{},
		failLines:       map[*Variant][]int{},
	}
	// Buckets and layers the lab's own actions make count as provisioned:
	// a submission may rely on them as its solution does.
	for _, v := range append([]*Variant{lab.Solution, lab.Starter}, lab.Wrong...) {
		if v == nil {
			continue
		}
		for _, st := range v.Actions {
			collectMade(st, ll.createdBuckets, ll.publishedLayers)
		}
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

// collectMade notes the bucket a create_bucket step makes and the layer a
// publish_layer step publishes, from its decoded arguments.
func collectMade(st Step, buckets, layers set) {
	var into set
	var key string
	switch st.Kind {
	case "create_bucket":
		into, key = buckets, "bucket"
	case "publish_layer":
		into, key = layers, "layer"
	default:
		return
	}
	v := reflect.ValueOf(st.Args)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if name == key && v.Field(i).Kind() == reflect.String {
			into[v.Field(i).String()] = true
		}
	}
}
