package labs

import (
	"fmt"
	"regexp"
	"strings"
)

// A value is one ${…} of a string: Kind is "account", "region", "lambda",
// "s3" or "layer"; Name and Qualifier are empty where the kind has none.
type value struct {
	Kind, Name, Qualifier string
}

var (
	functionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	qualifierRE  = regexp.MustCompile(`^(?:\$LATEST|[A-Za-z0-9_-]{1,128})$`)
	bucketRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	layerName    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,140}$`)
)

// valueForms are the ${…} an author may write, for messages.
const valueForms = "${account}, ${region}, ${arn:lambda:NAME}, ${arn:lambda:NAME:QUALIFIER}, ${arn:s3:BUCKET} or ${arn:layer:NAME}"

// Expand replaces each ${…} of s (FORMAT.md, "Values") with what lookup
// returns for it: lookup("account", "", ""), lookup("region", "", ""),
// lookup("lambda", NAME, QUALIFIER) with QUALIFIER "" when absent,
// lookup("s3", BUCKET, "") and lookup("layer", NAME, ""). A "$" not
// followed by "{" is kept as it is. Load has already rejected malformed
// values in lab files; Expand still reports them, and wraps lookup's error.
func Expand(s string, lookup func(kind, name, qualifier string) (string, error)) (string, error) {
	return scanValues(s, func(v value) (string, error) {
		out, err := lookup(v.Kind, v.Name, v.Qualifier)
		if err != nil {
			return "", fmt.Errorf("expand %s: %w", v, err)
		}
		return out, nil
	})
}

// values returns the ${…} of s, or the first malformed one as an error
// worded for an author.
func values(s string) ([]value, error) {
	var vs []value
	_, err := scanValues(s, func(v value) (string, error) {
		vs = append(vs, v)
		return "", nil
	})
	return vs, err
}

func scanValues(s string, replace func(value) (string, error)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	rest := s
	for {
		before, after, found := strings.Cut(rest, "${")
		b.WriteString(before)
		if !found {
			return b.String(), nil
		}
		inner, tail, closed := strings.Cut(after, "}")
		if !closed {
			return "", fmt.Errorf("%q opens ${ without a closing }", s)
		}
		v, err := parseValue(inner)
		if err != nil {
			return "", err
		}
		out, err := replace(v)
		if err != nil {
			return "", err
		}
		b.WriteString(out)
		rest = tail
	}
}

func parseValue(inner string) (value, error) {
	parts := strings.Split(inner, ":")
	bad := func(format string, args ...any) (value, error) {
		return value{}, fmt.Errorf("${%s}: "+format, append([]any{inner}, args...)...)
	}
	switch {
	case inner == "account" || inner == "region":
		return value{Kind: inner}, nil
	case len(parts) >= 2 && parts[0] == "arn" && parts[1] == "lambda":
		if len(parts) < 3 || len(parts) > 4 || parts[2] == "" {
			return bad("write ${arn:lambda:NAME} or ${arn:lambda:NAME:QUALIFIER}")
		}
		if !functionName.MatchString(parts[2]) {
			return bad("%q is not a function name (letters, digits, - and _)", parts[2])
		}
		v := value{Kind: "lambda", Name: parts[2]}
		if len(parts) == 4 {
			if !qualifierRE.MatchString(parts[3]) {
				return bad("%q is not a qualifier (a version number, an alias or $LATEST)", parts[3])
			}
			v.Qualifier = parts[3]
		}
		return v, nil
	case len(parts) >= 2 && parts[0] == "arn" && parts[1] == "s3":
		if len(parts) != 3 || parts[2] == "" {
			return bad("write ${arn:s3:BUCKET}")
		}
		if !bucketRE.MatchString(parts[2]) {
			return bad("%q is not a bucket name", parts[2])
		}
		return value{Kind: "s3", Name: parts[2]}, nil
	case len(parts) >= 2 && parts[0] == "arn" && parts[1] == "layer":
		if len(parts) != 3 || parts[2] == "" {
			return bad("write ${arn:layer:NAME} (the newest version of the account's layer NAME)")
		}
		if !layerName.MatchString(parts[2]) {
			return bad("%q is not a layer name (letters, digits, - and _)", parts[2])
		}
		return value{Kind: "layer", Name: parts[2]}, nil
	}
	if n := nearest(inner, []string{"account", "region"}); n != "" {
		return value{}, fmt.Errorf("unknown value ${%s} (did you mean ${%s}?)", inner, n)
	}
	if len(parts) >= 2 && parts[0] == "arn" {
		if n := nearest(parts[1], []string{"lambda", "s3", "layer"}); n != "" {
			return value{}, fmt.Errorf("unknown value ${%s} (did you mean arn:%s?)", inner, n)
		}
	}
	return value{}, fmt.Errorf("unknown value ${%s}: write %s", inner, valueForms)
}

func (v value) String() string {
	switch v.Kind {
	case "account", "region":
		return "${" + v.Kind + "}"
	case "lambda":
		if v.Qualifier != "" {
			return "${arn:lambda:" + v.Name + ":" + v.Qualifier + "}"
		}
	}
	return "${arn:" + v.Kind + ":" + v.Name + "}"
}
