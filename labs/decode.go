package labs

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yaml.v3's Node.Decode has no KnownFields, and its decoder stops at a
// custom unmarshaler's first error without a line. So the loader decodes
// every lab file itself, walking the yaml.Node against the target type:
// each unknown key, duplicate key and mistyped value is reported at its own
// line, and decoding goes on so that all of them are found at once. Leaves
// (scalars, yaml.Unmarshaler and encoding.TextUnmarshaler types, interface
// values) are handed to Node.Decode.
//
// The rules follow yaml.v3: a field is named by its yaml tag, or by its
// name in lower case; `yaml:"-"` skips it; `,inline` merges a struct's (or
// pointer to struct's) fields into the parent and an inline map takes the
// keys no field claims. Unlike yaml.v3, an embedded struct without a yaml
// name is inlined too, as encoding/json does. A yaml.Node field keeps the
// node as it is.

var (
	nodeType        = reflect.TypeFor[yaml.Node]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// lineKey names a decoded value by its address and type (a struct and its
// first field share an address).
type lineKey struct {
	p uintptr
	t reflect.Type
}

// decoder decodes the nodes of one file.
type decoder struct {
	ll   *labLoader
	file string // relative to Load's root
	base int    // file line just before the YAML text (1 for frontmatter)
	what string // prefix of every message ("step put_object"), or ""
	// values makes ${…} in strings checked and the names they mention
	// resolved; dirs are the submission folders a lab:"dir" must exist in.
	values bool
	dirs   []string
}

func (d *decoder) errorf(line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if d.what != "" {
		msg = d.what + ": " + msg
	}
	d.ll.probs.add(d.file, line, "%s", msg)
}

// fail reports a value that could not be decoded, and marks it so that
// the loader's own checks of it keep quiet.
func (d *decoder) fail(v reflect.Value, n *yaml.Node, format string, args ...any) {
	d.errorf(d.line(n), format, args...)
	if v.CanAddr() {
		d.ll.failed[lineKey{v.Addr().Pointer(), v.Type()}] = true
	}
}

// isLeaf reports whether values of t are decoded whole, by Node.Decode.
func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textType) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map, reflect.Pointer:
		return false
	}
	return true
}

// line is the file line of node n.
func (d *decoder) line(n *yaml.Node) int { return d.base + n.Line }

// decode fills *ptr from n.
// An empty document leaves *ptr as it is.
func (d *decoder) decode(n *yaml.Node, ptr any) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind == 0 {
		return
	}
	d.value(n, reflect.ValueOf(ptr).Elem(), "", "")
}

// value decodes n into v (addressable). key is the YAML key v came from,
// for messages ("" at the top); tag is the lab tag that applies to v's
// strings.
func (d *decoder) value(n *yaml.Node, v reflect.Value, key, tag string) {
	n = resolve(n)
	if n == nil {
		return
	}
	if v.CanAddr() {
		d.ll.lines[lineKey{v.Addr().Pointer(), v.Type()}] = d.line(n)
	}
	t := v.Type()
	if t == nodeType {
		v.Set(reflect.ValueOf(*n))
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		v.SetZero()
		return
	}
	at := ""
	if key != "" {
		at = key + ": "
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(v, n, "%s%s", at, decodeMessage(err))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		// A leaf that fails to decode stays nil, so that its default
		// applies instead of a zero value drawing a second complaint.
		p := reflect.New(t.Elem())
		before := len(d.ll.probs.list)
		d.value(n, p.Elem(), key, tag)
		if len(d.ll.probs.list) == before || !isLeaf(t.Elem()) {
			v.Set(p)
		}
	case reflect.Struct:
		d.structValue(n, v, key)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(d.line(n), "%swant a list, found %s", at, describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i), key, tag)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(d.line(n), "%swant a mapping, found %s", at, describe(n))
			return
		}
		m := reflect.MakeMap(t)
		seen := map[string]int{}
		for _, p := range pairs(n) {
			if first, dup := seen[p.key.Value]; dup {
				d.errorf(d.line(p.key), "%s%q is given twice (also at line %d)", at, p.key.Value, first)
				continue
			}
			seen[p.key.Value] = d.line(p.key)
			k := reflect.New(t.Key())
			if err := p.key.Decode(k.Interface()); err != nil {
				d.errorf(d.line(p.key), "%skey %s: %s", at, describe(p.key), decodeMessage(err))
				continue
			}
			if p.key.ShortTag() == "!!str" {
				d.checkString(p.key, key, "") // the grader expands keys too
			}
			e := reflect.New(t.Elem()).Elem()
			d.value(p.value, e, strings.TrimPrefix(key+"."+p.key.Value, "."), tag)
			m.SetMapIndex(k.Elem(), e)
		}
		v.Set(m)
	case reflect.Interface:
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.errorf(d.line(n), "%s%s", at, decodeMessage(err))
			return
		}
		if n.Kind == yaml.ScalarNode {
			d.checkString(n, key, tag)
		} else {
			d.scalars(n, func(s *yaml.Node) { d.checkString(s, key, "") })
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(d.line(n), "%swant text, found %s", at, describe(n))
			return
		}
		v.SetString(n.Value)
		d.checkString(n, key, tag)
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		want := map[reflect.Kind]string{reflect.Bool: "true or false", reflect.Float32: "a number", reflect.Float64: "a number"}[t.Kind()]
		if want == "" {
			want = "a whole number"
		}
		if n.Kind != yaml.ScalarNode {
			d.fail(v, n, "%swant %s, found %s", at, want, describe(n))
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(v, n, "%swant %s, found %s", at, want, describe(n))
		}
	default:
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.errorf(d.line(n), "%s%s", at, decodeMessage(err))
		}
	}
}

func (d *decoder) structValue(n *yaml.Node, v reflect.Value, key string) {
	fields, rest := fieldsOf(v.Type())
	names := make([]string, len(fields))
	for j, f := range fields {
		names[j] = f.name
	}
	if n.Kind != yaml.MappingNode {
		at := ""
		if key != "" {
			at = key + ": "
		}
		d.errorf(d.line(n), "%swant a mapping of fields (%s), found %s", at, strings.Join(names, ", "), describe(n))
		return
	}
	var restMap reflect.Value
	seen := map[string]int{}
	for _, p := range pairs(n) {
		name := p.key.Value
		if first, dup := seen[name]; dup {
			if !p.merged {
				d.errorf(d.line(p.key), "field %q is given twice (also at line %d)", name, first)
			}
			continue
		}
		seen[name] = d.line(p.key)
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
		if i < 0 && rest != nil {
			if !restMap.IsValid() {
				restMap = fieldByIndex(v, rest)
				if restMap.IsNil() {
					restMap.Set(reflect.MakeMap(restMap.Type()))
				}
			}
			e := reflect.New(restMap.Type().Elem()).Elem()
			d.value(p.value, e, name, "")
			restMap.SetMapIndex(reflect.ValueOf(name).Convert(restMap.Type().Key()), e)
			continue
		}
		if i < 0 {
			under := ""
			if key != "" {
				under = " under " + key
			}
			if s := didYouMean(name, names); s != "" {
				d.errorf(d.line(p.key), "unknown field %q%s%s", name, under, s)
			} else {
				d.errorf(d.line(p.key), "unknown field %q%s (fields: %s)", name, under, strings.Join(names, ", "))
			}
			continue
		}
		f := fields[i]
		d.value(p.value, fieldByIndex(v, f.index), name, f.tag)
	}
}

// checkString checks the ${…} of a string scalar and records what it and
// a lab tag name, for the loader to resolve once the whole lab is read.
func (d *decoder) checkString(n *yaml.Node, key, tag string) {
	s := n.Value
	if d.values && strings.Contains(s, "${") {
		vs, err := values(s)
		if err != nil {
			d.errorf(d.line(n), "%v", err)
			return
		}
		for _, v := range vs {
			kind := map[string]string{"lambda": "function", "s3": "bucket", "layer": "layer"}[v.Kind]
			if kind != "" {
				d.ll.refs = append(d.ll.refs, ref{kind: kind, name: v.Name, via: v.String(), file: d.file, line: d.line(n), what: d.what})
			}
		}
		return // a value's name is checked through the value, not the tag
	}
	if tag != "" && s != "" {
		d.ll.refs = append(d.ll.refs, ref{kind: tag, name: s, key: key, file: d.file, line: d.line(n), what: d.what, dirs: d.dirs})
	}
}

// scalars calls fn for each string scalar under n, mapping keys included.
func (d *decoder) scalars(n *yaml.Node, fn func(*yaml.Node)) {
	if n = resolve(n); n == nil {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			fn(n)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			d.scalars(c, fn)
		}
	case yaml.MappingNode:
		for _, p := range pairs(n) {
			d.scalars(p.key, fn)
			d.scalars(p.value, fn)
		}
	}
}

// field is one YAML key of a struct, possibly reached through inline
// structs.
type field struct {
	name  string
	index []int
	tag   string // the lab tag
}

// fieldsOf lists t's YAML fields in declaration order, and the index of
// its inline map (nil when none).
func fieldsOf(t reflect.Type) (fields []field, rest []int) {
	for i := range t.NumField() {
		sf := t.Field(i)
		yamlTag := sf.Tag.Get("yaml")
		if yamlTag == "-" {
			continue
		}
		name, flags, _ := strings.Cut(yamlTag, ",")
		inline := slices.Contains(strings.Split(flags, ","), "inline") || (sf.Anonymous && name == "")
		ft := sf.Type
		if inline {
			switch {
			case ft.Kind() == reflect.Map:
				rest = []int{i}
				continue
			case ft.Kind() == reflect.Struct || (ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct):
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				sub, subRest := fieldsOf(ft)
				for _, f := range sub {
					f.index = append([]int{i}, f.index...)
					fields = append(fields, f)
				}
				if subRest != nil {
					rest = append([]int{i}, subRest...)
				}
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		labTag, _, _ := strings.Cut(sf.Tag.Get("lab"), ",")
		fields = append(fields, field{name: name, index: []int{i}, tag: labTag})
	}
	return fields, rest
}

// fieldByIndex is v.FieldByIndex, allocating nil inline pointers on the way.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// pair is one key and value of a mapping; merged pairs come from a "<<"
// merge key and yield to the mapping's own keys.
type pair struct {
	key, value *yaml.Node
	merged     bool
}

// pairs returns a mapping's pairs with "<<" merges expanded after its own
// keys, so that a key given in the mapping wins over a merged one.
func pairs(n *yaml.Node) []pair {
	n = resolve(n)
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			v = resolve(v)
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, s := range srcs {
				if s = resolve(s); s.Kind == yaml.MappingNode {
					for _, p := range pairs(s) {
						merged = append(merged, pair{p.key, p.value, true})
					}
				}
			}
			continue
		}
		own = append(own, pair{k, v, false})
	}
	return append(own, merged...)
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// describe names what a node holds, for "want X, found Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

// decodeMessage is a Node.Decode error without yaml.v3's line and Go type
// names, which the caller replaces with its own.
func decodeMessage(err error) string {
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		m := yamlLinePrefix.ReplaceAllString(te.Errors[0], "")
		m = yamlTypeSuffix.ReplaceAllString(m, "")
		return m
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
