package xray

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// ErrInvalidFilter is wrapped by every refusal of a filter expression.
var ErrInvalidFilter = errors.New("invalid filter expression")

// ParseFilter compiles the part of X-Ray's filter expression language
// (xray-console-filters) that lambdalab supports:
//
//	service("name")  service(id(name: "name", type: "AWS::Lambda::Function"))  id(name: "name")  service()
//	ok  error  fault  throttle  partial  (alone, or = true / = false)
//	duration > 1.5  responsetime <= 0.2  http.status = 500  (seconds; = != < <= > >=)
//	http.url CONTAINS "/api"  http.method = "POST"  (= != CONTAINS BEGINSWITH ENDSWITH)
//	annotation.key = "value"  annotation[key] > 10  annotation.flag = true
//
// joined with AND (&&), OR (||), NOT (!) and parentheses. The empty
// expression matches every trace. Edge and service blocks ({ … }) are not
// supported and are refused with a message saying so.
func ParseFilter(expr string) (func(*TraceSummary) bool, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return func(*TraceSummary) bool { return true }, nil
	}
	p := &filterParser{toks: toks}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if !p.done() {
		return nil, p.errorf("unexpected %q", p.peek().text)
	}
	return f, nil
}

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tNumber
	tOp // = != < <= > >= ( ) , : ! && || { }
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'':
			j := i + 1
			var b strings.Builder
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("%w: unterminated string at %d", ErrInvalidFilter, i)
			}
			out = append(out, token{tString, b.String(), i})
			i = j + 1
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E') {
				j++
			}
			out = append(out, token{tNumber, s[i:j], i})
			i = j
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] >= '0' && s[j] <= '9' || unicode.IsLetter(rune(s[j]))) {
				j++
			}
			out = append(out, token{tIdent, s[i:j], i})
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "!=", "<=", ">=", "&&", "||":
				out = append(out, token{tOp, two, i})
				i += 2
				continue
			}
			if strings.IndexByte("=<>(),:![]{}", c) < 0 {
				return nil, fmt.Errorf("%w: unexpected %q at %d", ErrInvalidFilter, c, i)
			}
			out = append(out, token{tOp, string(c), i})
			i++
		}
	}
	return out, nil
}

type filterParser struct {
	toks []token
	i    int
}

type pred = func(*TraceSummary) bool

func (p *filterParser) done() bool { return p.i >= len(p.toks) }

func (p *filterParser) peek() token {
	if p.done() {
		return token{kind: tOp, text: "", pos: -1}
	}
	return p.toks[p.i]
}

func (p *filterParser) next() token { t := p.peek(); p.i++; return t }

func (p *filterParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidFilter}, args...)...)
}

// is reports whether the next token is an operator or a keyword (any case).
func (p *filterParser) is(words ...string) bool {
	t := p.peek()
	if t.kind != tOp && t.kind != tIdent {
		return false
	}
	for _, w := range words {
		if strings.EqualFold(t.text, w) {
			return true
		}
	}
	return false
}

func (p *filterParser) expect(op string) error {
	if !p.is(op) {
		return p.errorf("expected %q, found %q", op, p.peek().text)
	}
	p.i++
	return nil
}

func (p *filterParser) or() (pred, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.is("OR", "||") {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(s *TraceSummary) bool { return a(s) || b(s) }
	}
	return l, nil
}

func (p *filterParser) and() (pred, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.is("AND", "&&") {
		p.i++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(s *TraceSummary) bool { return a(s) && b(s) }
	}
	return l, nil
}

func (p *filterParser) unary() (pred, error) {
	switch {
	case p.is("!", "NOT"):
		p.i++
		f, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(s *TraceSummary) bool { return !f(s) }, nil
	case p.is("("):
		p.i++
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		return f, p.expect(")")
	}
	return p.term()
}

func (p *filterParser) term() (pred, error) {
	t := p.next()
	if t.kind != tIdent {
		return nil, p.errorf("expected a keyword, found %q", t.text)
	}
	kw := strings.ToLower(t.text)
	switch {
	case kw == "service" || kw == "id":
		if kw == "id" {
			p.i--
		} else if err := p.expect("("); err != nil {
			return nil, err
		}
		var f pred
		var err error
		switch {
		case kw == "service" && p.is(")"):
			f = func(s *TraceSummary) bool { return len(s.Services) > 0 }
		case p.peek().kind == tString:
			name := p.next().text
			f = func(s *TraceSummary) bool { return hasService(s, name, "", false) }
		case p.is("id"):
			p.i++
			f, err = p.idSpec()
		default:
			return nil, p.errorf("service() takes a name in quotes or id(name: …)")
		}
		if err != nil {
			return nil, err
		}
		if kw == "service" {
			if err := p.expect(")"); err != nil {
				return nil, err
			}
		}
		if p.is("{") {
			return nil, p.errorf("service blocks ({ … }) are not supported by lambdalab; combine conditions with AND instead")
		}
		return f, nil
	case kw == "ok" || kw == "error" || kw == "fault" || kw == "throttle" || kw == "partial":
		get := map[string]func(*TraceSummary) bool{
			"ok":       func(s *TraceSummary) bool { return !s.HasError && !s.HasFault && !s.HasThrottle },
			"error":    func(s *TraceSummary) bool { return s.HasError },
			"fault":    func(s *TraceSummary) bool { return s.HasFault },
			"throttle": func(s *TraceSummary) bool { return s.HasThrottle },
			"partial":  func(s *TraceSummary) bool { return s.IsPartial },
		}[kw]
		if p.is("=", "!=") {
			op := p.next().text
			v := p.next()
			want := strings.EqualFold(v.text, "true")
			if v.kind != tIdent || !want && !strings.EqualFold(v.text, "false") {
				return nil, p.errorf("%s compares with true or false", kw)
			}
			if op == "!=" {
				want = !want
			}
			return func(s *TraceSummary) bool { return get(s) == want }, nil
		}
		return get, nil
	case kw == "duration" || kw == "responsetime" || kw == "http.status":
		op, v, err := p.comparison(false)
		if err != nil {
			return nil, err
		}
		n, ok := v.(float64)
		if !ok {
			return nil, p.errorf("%s compares with a number", kw)
		}
		get := func(s *TraceSummary) float64 {
			switch kw {
			case "duration":
				return s.Duration.Seconds()
			case "responsetime":
				return s.ResponseTime.Seconds()
			}
			return float64(s.HTTPStatus)
		}
		return func(s *TraceSummary) bool { return compare(get(s), op, n) }, nil
	case kw == "http.url" || kw == "http.method":
		op, v, err := p.comparison(true)
		if err != nil {
			return nil, err
		}
		str, ok := v.(string)
		if !ok {
			return nil, p.errorf("%s compares with a string in quotes", kw)
		}
		return func(s *TraceSummary) bool {
			got := s.HTTPURL
			if kw == "http.method" {
				got = s.HTTPMethod
			}
			return compare(got, op, str)
		}, nil
	case strings.HasPrefix(kw, "annotation.") || kw == "annotation":
		key := t.text[len("annotation"):]
		if key == "" {
			if err := p.expect("["); err != nil {
				return nil, err
			}
			k := p.next()
			if k.kind != tIdent && k.kind != tString {
				return nil, p.errorf("annotation[…] takes a key")
			}
			key = k.text
			if err := p.expect("]"); err != nil {
				return nil, err
			}
		} else {
			key = key[1:]
		}
		op, v, err := p.comparison(true)
		if err != nil {
			return nil, err
		}
		return func(s *TraceSummary) bool {
			for _, have := range s.Annotations[key] {
				if compare(have, op, v) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, p.errorf("lambdalab does not support the keyword %q", t.text)
}

// idSpec reads (name: "…", type: "…") after id.
func (p *filterParser) idSpec() (pred, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var name, typ string
	var hasType bool
	for !p.is(")") {
		k := p.next()
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		v := p.next()
		if v.kind != tString {
			return nil, p.errorf("id(%s: …) takes a string in quotes", k.text)
		}
		switch strings.ToLower(k.text) {
		case "name":
			name = v.text
		case "type":
			typ, hasType = v.text, true
		case "account.id":
			// one account per learner: always matches
		default:
			return nil, p.errorf("id() takes name, type and account.id, not %q", k.text)
		}
		if p.is(",") {
			p.i++
		}
		if p.done() {
			return nil, p.errorf("unterminated id(")
		}
	}
	p.i++
	return func(s *TraceSummary) bool { return hasService(s, name, typ, hasType) }, nil
}

// comparison reads an operator and a literal: a number, a string, or
// true/false. Strings allow CONTAINS, BEGINSWITH and ENDSWITH.
func (p *filterParser) comparison(strOps bool) (string, any, error) {
	op := p.next()
	o := strings.ToUpper(op.text)
	switch o {
	case "=", "!=", "<", "<=", ">", ">=":
	case "CONTAINS", "BEGINSWITH", "ENDSWITH":
		if !strOps {
			return "", nil, p.errorf("%s compares only strings", o)
		}
	default:
		return "", nil, p.errorf("expected a comparison, found %q", op.text)
	}
	v := p.next()
	switch {
	case v.kind == tString:
		return o, v.text, nil
	case v.kind == tNumber:
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return "", nil, p.errorf("bad number %q", v.text)
		}
		return o, n, nil
	case v.kind == tIdent && (strings.EqualFold(v.text, "true") || strings.EqualFold(v.text, "false")):
		return o, strings.EqualFold(v.text, "true"), nil
	}
	return "", nil, p.errorf("expected a value after %s, found %q", o, v.text)
}

func compare(have any, op string, want any) bool {
	switch h := have.(type) {
	case float64:
		w, ok := want.(float64)
		return ok && ordered(cmp.Compare(h, w), op)
	case string:
		w, ok := want.(string)
		if !ok {
			return false
		}
		switch op {
		case "CONTAINS":
			return strings.Contains(h, w)
		case "BEGINSWITH":
			return strings.HasPrefix(h, w)
		case "ENDSWITH":
			return strings.HasSuffix(h, w)
		}
		return ordered(cmp.Compare(h, w), op)
	case bool:
		w, ok := want.(bool)
		if !ok {
			return false
		}
		switch op {
		case "=":
			return h == w
		case "!=":
			return h != w
		}
	}
	return false
}

// ordered applies a comparison operator to cmp.Compare's result.
func ordered(c int, op string) bool {
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

func hasService(s *TraceSummary, name, typ string, hasType bool) bool {
	for _, id := range s.Services {
		if (name == "" || id.Name == name) && (!hasType || id.Type == typ) {
			return true
		}
	}
	return false
}
