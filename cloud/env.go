package cloud

import (
	"fmt"
	"strings"
)

// ShellEnv renders an access key as lines a POSIX shell can eval: the
// export lines the AWS CLI and SDKs read, for `lambdalab user keys` and the
// account page alike. Every value is single-quoted although today's are
// alphanumeric, so that no future character can run as code, and every line
// ends with a semicolon because an unquoted eval $(...) joins the lines into
// one. A session token left in the shell from real AWS would be sent along
// with these keys and break every signature, so it is unset. AWS CLI
// versions before 2.13 (Debian 12 ships 2.9) ignore AWS_ENDPOINT_URL and
// would send the learner's commands to real AWS, so an interactive shell
// also gets an alias that names the endpoint. The comment comes last: a
// leading # would swallow the joined lines.
func ShellEnv(accountID, keyID, secret, endpoint string) string {
	var b strings.Builder
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
		fmt.Fprintf(&b, "export %s=%s;\n", v[0], ShellQuote(v[1]))
	}
	fmt.Fprintf(&b, "alias aws=%s;\n", ShellQuote("aws --endpoint-url "+endpoint))
	if accountID != "" {
		fmt.Fprintf(&b, "# AWS account %s\n", accountID)
	}
	return b.String()
}

// ShellQuote returns s as one single-quoted POSIX shell word.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
