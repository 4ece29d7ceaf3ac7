package cloud

import (
	"fmt"
	"strings"
)

// ShellEnv renders an access key as lines a POSIX shell can eval: the
// export lines the AWS CLI and SDKs read, for `lambdalab user keys` and the
// account page alike. Every value is single-quoted although today's are
// alphanumeric, so that no future character can run as code. A session
// token left in the shell from real AWS would be sent along with these keys
// and break every signature, so it is unset. The comment comes last because
// an unquoted eval $(...) joins the lines into one, and a leading # would
// swallow them.
func ShellEnv(accountID, keyID, secret, endpoint string) string {
	var b strings.Builder
	// The semicolon keeps an unquoted eval $(...), which joins the lines,
	// from reading the exports as more names to unset.
	b.WriteString("unset AWS_SESSION_TOKEN;\n")
	for _, v := range [][2]string{
		{"AWS_ACCESS_KEY_ID", keyID},
		{"AWS_SECRET_ACCESS_KEY", secret},
		// Both region variables: the CLI and boto3 read the first, the
		// JavaScript SDK only the second.
		{"AWS_DEFAULT_REGION", Region},
		{"AWS_REGION", Region},
		{"AWS_ENDPOINT_URL", endpoint},
	} {
		fmt.Fprintf(&b, "export %s=%s\n", v[0], ShellQuote(v[1]))
	}
	if accountID != "" {
		fmt.Fprintf(&b, "# AWS account %s\n", accountID)
	}
	return b.String()
}

// ShellQuote returns s as one single-quoted POSIX shell word.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
