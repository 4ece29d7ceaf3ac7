package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"

	"lambdalab/facts"
	"lambdalab/sandbox"
	"lambdalab/store"
)

// AddPermissionInput is AddPermission's request: one statement of the
// function's resource-based policy.
type AddPermissionInput struct {
	StatementID      string `json:"StatementId"`
	Action           string `json:"Action"`
	Principal        string `json:"Principal"`
	SourceArn        string `json:"SourceArn"`
	SourceAccount    string `json:"SourceAccount"`
	EventSourceToken string `json:"EventSourceToken"`
	PrincipalOrgID   string `json:"PrincipalOrgID"`
	RevisionID       string `json:"RevisionId"`
}

// statement is one policy statement as GetPolicy shows it.
type statement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Principal any                          `json:"Principal"`
	Action    string                       `json:"Action"`
	Resource  string                       `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

var (
	sidRE       = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,100}$`)
	actionRE    = regexp.MustCompile(`^(lambda:[*]|lambda:[a-zA-Z]+|[*])$`)
	accountIDRE = regexp.MustCompile(`^\d{12}$`)
)

// AddPermission adds a statement letting a principal (an AWS service such
// as s3.amazonaws.com, an account, or *) call the function.
func (s *Service) AddPermission(ctx context.Context, account, name, qualifier string, in AddPermissionInput) (string, error) {
	ref, err := s.ownRef(account, name, qualifier)
	if err != nil {
		return "", err
	}
	if !sidRE.MatchString(in.StatementID) {
		return "", invalid("1 validation error detected: Value '%s' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)", in.StatementID)
	}
	if !actionRE.MatchString(in.Action) {
		return "", invalid("1 validation error detected: Value '%s' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])", in.Action)
	}
	if in.Principal == "" {
		return "", invalid("1 validation error detected: Value null at 'principal' failed to satisfy constraint: Member must not be null")
	}
	if _, _, err := s.version(ctx, account, ref); err != nil {
		return "", err
	}
	st := statement{Sid: in.StatementID, Effect: "Allow", Action: in.Action, Resource: ref.arn(account)}
	switch {
	case in.Principal == "*":
		st.Principal = "*"
	case accountIDRE.MatchString(in.Principal):
		st.Principal = map[string]string{"AWS": "arn:aws:iam::" + in.Principal + ":root"}
	case regexp.MustCompile(`^arn:aws:iam::\d{12}:`).MatchString(in.Principal):
		st.Principal = map[string]string{"AWS": in.Principal}
	default:
		st.Principal = map[string]string{"Service": in.Principal}
	}
	cond := map[string]map[string]string{}
	if in.SourceAccount != "" {
		cond["StringEquals"] = map[string]string{"AWS:SourceAccount": in.SourceAccount}
	}
	if in.SourceArn != "" {
		cond["ArnLike"] = map[string]string{"AWS:SourceArn": in.SourceArn}
	}
	if in.PrincipalOrgID != "" {
		// Beside a SourceAccount condition, not instead of it: Lambda
		// keeps both keys under one StringEquals.
		if cond["StringEquals"] == nil {
			cond["StringEquals"] = map[string]string{}
		}
		cond["StringEquals"]["aws:PrincipalOrgID"] = in.PrincipalOrgID
	}
	if len(cond) > 0 {
		st.Condition = cond
	}
	doc, _ := json.Marshal(st)
	existing, err := s.db.PolicyStatements(ctx, account, ref.Name, ref.Qualifier)
	if err != nil {
		return "", fmt.Errorf("add permission to %s: %w", ref.Name, err)
	}
	size := len(doc)
	for _, e := range existing {
		size += len(e.Statement)
	}
	if size > facts.MaxPolicyBytes {
		return "", &Error{Type: "PolicyLengthExceededException", Status: 400, Message: "The final policy size (" + fmt.Sprint(size) + ") is bigger than the limit (20480)."}
	}
	err = s.db.AddPolicyStatement(ctx, store.LambdaPolicyStatement{AccountID: account, Function: ref.Name,
		Qualifier: ref.Qualifier, StatementID: in.StatementID, Statement: doc, CreatedAt: now()})
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			return "", conflict("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", in.StatementID)
		}
		return "", storeErr(err, "Function not found: "+ref.arn(account))
	}
	return string(doc), nil
}

// RemovePermission deletes one statement.
func (s *Service) RemovePermission(ctx context.Context, account, name, qualifier, sid string) error {
	ref, err := s.ownRef(account, name, qualifier)
	if err != nil {
		return err
	}
	if err := checkStatementID(sid); err != nil {
		return err
	}
	if err := s.db.RemovePolicyStatement(ctx, account, ref.Name, ref.Qualifier, sid); err != nil {
		return storeErr(err, fmt.Sprintf("Statement %s is not found in resource policy.", sid))
	}
	return nil
}

// Policy is GetPolicy's answer: the policy document as a JSON string.
type Policy struct {
	Policy     string `json:"Policy"`
	RevisionID string `json:"RevisionId"`
}

// GetPolicy returns the function's (or a version's or alias's) policy.
func (s *Service) GetPolicy(ctx context.Context, account, name, qualifier string) (Policy, error) {
	ref, err := s.ownRef(account, name, qualifier)
	if err != nil {
		return Policy{}, err
	}
	if _, _, err := s.version(ctx, account, ref); err != nil {
		return Policy{}, err
	}
	sts, err := s.statements(ctx, account, ref)
	if err != nil {
		return Policy{}, err
	}
	if len(sts) == 0 {
		return Policy{}, notFound("The resource you requested does not exist.")
	}
	doc, _ := json.Marshal(struct {
		Version   string      `json:"Version"`
		ID        string      `json:"Id"`
		Statement []statement `json:"Statement"`
	}{"2012-10-17", "default", sts})
	return Policy{Policy: string(doc), RevisionID: sandbox.NewRequestID()}, nil
}

func (s *Service) statements(ctx context.Context, account string, ref functionRef) ([]statement, error) {
	rows, err := s.db.PolicyStatements(ctx, account, ref.Name, ref.Qualifier)
	if err != nil {
		return nil, fmt.Errorf("read policy of %s: %w", ref.Name, err)
	}
	var sts []statement
	for _, r := range rows {
		var st statement
		if err := json.Unmarshal(r.Statement, &st); err != nil {
			return nil, fmt.Errorf("decode policy statement %s of %s: %w", r.StatementID, ref.Name, err)
		}
		sts = append(sts, st)
	}
	return sts, nil
}

// ServiceAllowed reports whether the function's policy lets an AWS service
// (for example s3.amazonaws.com) invoke it, for a call on behalf of
// sourceArn in sourceAccount, as Lambda evaluates it: a statement on the
// exact ARN invoked (unqualified, version or alias) whose principal is the
// service or * and whose conditions hold.
func (s *Service) ServiceAllowed(ctx context.Context, account, functionArn, service, sourceArn, sourceAccount string) (bool, error) {
	ref, err := parseFunctionRef(functionArn, "")
	if err != nil || (ref.Account != "" && ref.Account != account) {
		return false, nil
	}
	sts, err := s.statements(ctx, account, ref)
	if err != nil {
		return false, err
	}
	for _, st := range sts {
		if st.Effect != "Allow" || (st.Action != "lambda:InvokeFunction" && st.Action != "lambda:*" && st.Action != "*") {
			continue
		}
		switch p := st.Principal.(type) {
		case string:
			if p != "*" {
				continue
			}
		case map[string]any:
			if p["Service"] != service {
				continue
			}
		default:
			continue
		}
		if v, ok := st.Condition["StringEquals"]["AWS:SourceAccount"]; ok && v != sourceAccount {
			continue
		}
		if v, ok := st.Condition["ArnLike"]["AWS:SourceArn"]; ok {
			if m, _ := path.Match(v, sourceArn); !m && v != sourceArn {
				continue
			}
		}
		return true, nil
	}
	return false, nil
}
