package lambda

import (
	"regexp"
	"strconv"
	"strings"
)

// functionRef is a FunctionName parameter taken apart: Lambda accepts a
// name, name:qualifier, a full ARN or a partial ARN (123456789012:function:name).
type functionRef struct {
	Account   string // "" when the caller named no account
	Name      string
	Qualifier string // "" when unqualified
}

var functionRefRE = regexp.MustCompile(`^(?:arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):)?(?:(\d{12}):)?(?:function:)?([a-zA-Z0-9_-]+)(?::(\$LATEST|[a-zA-Z0-9_-]+))?$`)

// parseFunctionRef reads FunctionName; qualifier is the Qualifier parameter,
// which must agree with a qualifier inside the name.
func parseFunctionRef(s, qualifier string) (functionRef, error) {
	m := functionRefRE.FindStringSubmatch(s)
	if m == nil || len(s) > 170 {
		return functionRef{}, invalid("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?", s)
	}
	if m[1] != "" && m[1] != "us-east-1" {
		return functionRef{}, invalid("Functions from '%s' are not reachable in this region ('us-east-1')", m[1])
	}
	ref := functionRef{Account: m[2], Name: m[3], Qualifier: m[4]}
	if len(ref.Name) > 64 {
		return functionRef{}, invalid("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64", ref.Name)
	}
	if qualifier != "" {
		if err := checkQualifier(qualifier); err != nil {
			return functionRef{}, err
		}
		if ref.Qualifier != "" && ref.Qualifier != qualifier {
			return functionRef{}, invalid("The derived qualifier from the function name does not match the specified qualifier.")
		}
		ref.Qualifier = qualifier
	}
	return ref, nil
}

// Patterns of parameters that arrive in the URL, from Lambda's API
// reference: the Qualifier query parameter, RemovePermission's StatementId
// and a LayerName. A value outside them names nothing Lambda could hold,
// and is refused before anything is looked up.
var (
	qualifierRE  = regexp.MustCompile(`^[a-zA-Z0-9$_-]*$`)
	removeSidRE  = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	layerParamRE = regexp.MustCompile(`^(?:arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9_-]+|[a-zA-Z0-9_-]+)$`)
)

// checkQualifier refuses a Qualifier parameter outside (|[a-zA-Z0-9$_-]+)
// or longer than 128 characters.
func checkQualifier(q string) error {
	var failed []string
	if len(q) > 128 {
		failed = append(failed, "Member must have length less than or equal to 128")
	}
	if !qualifierRE.MatchString(q) {
		failed = append(failed, "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)")
	}
	if failed != nil {
		return validation("%s", constraint("qualifier", q, failed...))
	}
	return nil
}

// checkStatementID refuses a StatementId in RemovePermission's URL
// outside ([a-zA-Z0-9-_.]+) or longer than 100 characters.
func checkStatementID(sid string) error {
	var failed []string
	if len(sid) > 100 {
		failed = append(failed, "Member must have length less than or equal to 100")
	}
	if !removeSidRE.MatchString(sid) {
		failed = append(failed, "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)")
	}
	if failed != nil {
		return validation("%s", constraint("statementId", sid, failed...))
	}
	return nil
}

func (r functionRef) arn(account string) string {
	a := functionARN(account, r.Name)
	if r.Qualifier != "" {
		a += ":" + r.Qualifier
	}
	return a
}

var layerVersionARNRE = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):layer:([a-zA-Z0-9_-]+):([0-9]+)$`)

// parseLayerVersionARN reads arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION.
func parseLayerVersionARN(s string) (account, name string, version int, err error) {
	m := layerVersionARNRE.FindStringSubmatch(s)
	if m == nil {
		return "", "", 0, invalid("1 validation error detected: Value '[%s]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]", s)
	}
	v, err := strconv.Atoi(m[4])
	if err != nil || v < 1 {
		return "", "", 0, invalid("Layer version %s is not a positive number", m[4])
	}
	return m[2], m[3], v, nil
}

func isVersionNumber(q string) bool {
	return q != "" && numericRE.MatchString(q) && !strings.HasPrefix(q, "0")
}
