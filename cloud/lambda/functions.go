package lambda

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"lambdalab/cloud/codepkg"
	"lambdalab/sandbox"
	"lambdalab/store"
)

// FunctionCode is a deployment package: a zip (the API's ZipFile, base64 on
// the wire) or, through the Go API only, a host folder that is zipped.
type FunctionCode struct {
	ZipFile  []byte `json:"ZipFile"`
	S3Bucket string `json:"S3Bucket,omitempty"`
	S3Key    string `json:"S3Key,omitempty"`
	// Dir is a host folder to package instead of ZipFile (grader, editor).
	Dir string `json:"-"`
}

// CreateFunctionInput is CreateFunction's request.
type CreateFunctionInput struct {
	FunctionName string       `json:"FunctionName"`
	Code         FunctionCode `json:"Code"`
	PackageType  string       `json:"PackageType"`
	Publish      bool         `json:"Publish"`
	ConfigInput
}

// maxFunctions bounds how many functions one account may hold: Lambda's
// limit is code storage (75 GB); here a classroom machine's disk.
const maxFunctions = 200

// CreateFunction creates $LATEST from a package and a configuration.
func (s *Service) CreateFunction(ctx context.Context, account string, in CreateFunctionInput) (FunctionConfiguration, error) {
	if !nameRE.MatchString(in.FunctionName) {
		return FunctionConfiguration{}, invalid("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ (1 to 64 characters)", in.FunctionName)
	}
	if in.PackageType != "" && in.PackageType != "Zip" {
		return FunctionConfiguration{}, invalid("lambdalab runs .zip deployment packages only (PackageType Zip), not %s", in.PackageType)
	}
	cfg := defaultConfig()
	if err := cfg.apply(in.ConfigInput); err != nil {
		return FunctionConfiguration{}, err
	}
	layers, err := s.resolveLayers(ctx, account, in.Layers)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	if layers != nil {
		cfg.Layers = layers
	}
	if err := cfg.check(account, in.FunctionName); err != nil {
		return FunctionConfiguration{}, err
	}
	if _, err := s.db.LambdaFunction(ctx, account, in.FunctionName); err == nil {
		return FunctionConfiguration{}, conflict("Function already exist: %s", in.FunctionName)
	}
	existing, err := s.db.ListFunctions(ctx, account, "", maxFunctions)
	if err != nil {
		return FunctionConfiguration{}, fmt.Errorf("create function %s: %w", in.FunctionName, err)
	}
	if len(existing) >= maxFunctions {
		return FunctionConfiguration{}, &Error{Type: "CodeStorageExceededException", Status: 400,
			Message: fmt.Sprintf("This lambdalab account already holds %d functions, the most it may; delete some first.", maxFunctions)}
	}
	pkg, err := s.putCode(ctx, in.Code, cfg.layerBytes())
	if err != nil {
		return FunctionConfiguration{}, err
	}
	cfg.UnzippedBytes = pkg.UnzippedSize
	v := store.LambdaVersion{AccountID: account, Function: in.FunctionName, Version: "$LATEST",
		Config: cfg.marshal(), CodeSha256: pkg.Sha256, CodeSize: pkg.Size, RevisionID: sandbox.NewRequestID(), LastModified: now()}
	if err := s.db.CreateFunction(ctx, v); err != nil {
		if errors.Is(err, store.ErrExists) {
			return FunctionConfiguration{}, conflict("Function already exist: %s", in.FunctionName)
		}
		return FunctionConfiguration{}, fmt.Errorf("create function %s: %w", in.FunctionName, err)
	}
	s.logger.InfoContext(ctx, "function created", "account", account, "function", in.FunctionName, "code_size", pkg.Size)
	if in.Publish {
		return s.PublishVersion(ctx, account, in.FunctionName, PublishVersionInput{})
	}
	return documentOf(v, cfg), nil
}

func (c versionConfig) layerBytes() int64 {
	var n int64
	for _, l := range c.Layers {
		n += l.UnzippedBytes
	}
	return n
}

// putCode stores a package, refusing what Lambda refuses. layerBytes is
// what the function's layers already take of the 250 MB.
func (s *Service) putCode(ctx context.Context, code FunctionCode, layerBytes int64) (codepkg.Package, error) {
	if code.S3Bucket != "" || code.S3Key != "" {
		return codepkg.Package{}, invalid("lambdalab takes the deployment package in the request (ZipFile); S3Bucket/S3Key are not supported here")
	}
	budget := codepkg.MaxUnzipped - layerBytes
	var pkg codepkg.Package
	var err error
	switch {
	case code.Dir != "":
		pkg, err = s.pkgs.PutDir(ctx, code.Dir, budget)
	case len(code.ZipFile) > 0:
		pkg, err = s.pkgs.Put(ctx, code.ZipFile, budget)
	default:
		return codepkg.Package{}, invalid("Please provide a source for function code.")
	}
	if err != nil {
		var ce *codepkg.Error
		if errors.As(err, &ce) {
			return codepkg.Package{}, &Error{Type: ce.Type, Status: ce.Status, Message: ce.Message}
		}
		return codepkg.Package{}, fmt.Errorf("store package: %w", err)
	}
	return pkg, nil
}

func documentOf(v store.LambdaVersion, c versionConfig) FunctionConfiguration {
	return document(v.AccountID, v.Function, v.Version, c, v.CodeSha256, v.CodeSize, v.RevisionID, v.LastModified)
}

// UpdateCodeInput is UpdateFunctionCode's request.
type UpdateCodeInput struct {
	ZipFile    []byte `json:"ZipFile"`
	S3Bucket   string `json:"S3Bucket,omitempty"`
	S3Key      string `json:"S3Key,omitempty"`
	Publish    bool   `json:"Publish"`
	DryRun     bool   `json:"DryRun"`
	RevisionID string `json:"RevisionId"`
	// Dir is a host folder to package instead of ZipFile (Go API only).
	Dir string `json:"-"`
}

// UpdateFunctionCode replaces $LATEST's code. A refused package leaves the
// previous code and configuration as they were.
func (s *Service) UpdateFunctionCode(ctx context.Context, account, name string, in UpdateCodeInput) (FunctionConfiguration, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return FunctionConfiguration{}, err
	}
	cur, err := s.db.FunctionVersion(ctx, account, ref.Name, "$LATEST")
	if err != nil {
		return FunctionConfiguration{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	cfg, err := parseConfig(cur.Config)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	if in.RevisionID != "" && in.RevisionID != cur.RevisionID {
		return FunctionConfiguration{}, errStaleRevision()
	}
	pkg, err := s.putCode(ctx, FunctionCode{ZipFile: in.ZipFile, Dir: in.Dir, S3Bucket: in.S3Bucket, S3Key: in.S3Key}, cfg.layerBytes())
	if err != nil {
		return FunctionConfiguration{}, err
	}
	if in.DryRun {
		d := documentOf(cur, cfg)
		d.CodeSha256, d.CodeSize = pkg.Sha256, pkg.Size
		return d, nil
	}
	v, err := s.db.UpdateLatest(ctx, account, ref.Name, func(v *store.LambdaVersion) error {
		if in.RevisionID != "" && in.RevisionID != v.RevisionID {
			return errStaleRevision()
		}
		c, err := parseConfig(v.Config)
		if err != nil {
			return err
		}
		c.UnzippedBytes = pkg.UnzippedSize
		v.Config = c.marshal()
		v.CodeSha256, v.CodeSize = pkg.Sha256, pkg.Size
		v.RevisionID, v.LastModified = sandbox.NewRequestID(), now()
		cfg = c
		return nil
	})
	if err != nil {
		return FunctionConfiguration{}, s.updateErr(err, ref, account)
	}
	s.logger.InfoContext(ctx, "function code updated", "account", account, "function", ref.Name, "code_size", pkg.Size)
	if in.Publish {
		return s.PublishVersion(ctx, account, ref.Name, PublishVersionInput{})
	}
	return documentOf(v, cfg), nil
}

func (s *Service) updateErr(err error, ref functionRef, account string) error {
	if _, ok := AsError(err); ok {
		return err
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Function not found: %s", ref.arn(account))
	}
	return fmt.Errorf("update function %s: %w", ref.Name, err)
}

// UpdateFunctionConfiguration changes $LATEST's configuration.
func (s *Service) UpdateFunctionConfiguration(ctx context.Context, account, name string, in ConfigInput) (FunctionConfiguration, error) {
	ref, err := s.ownRef(account, name, "")
	if err != nil {
		return FunctionConfiguration{}, err
	}
	if _, err := s.db.LambdaFunction(ctx, account, ref.Name); err != nil {
		return FunctionConfiguration{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	layers, err := s.resolveLayers(ctx, account, in.Layers)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	var cfg versionConfig
	v, err := s.db.UpdateLatest(ctx, account, ref.Name, func(v *store.LambdaVersion) error {
		if in.RevisionID != "" && in.RevisionID != v.RevisionID {
			return errStaleRevision()
		}
		c, err := parseConfig(v.Config)
		if err != nil {
			return err
		}
		if err := c.apply(in); err != nil {
			return err
		}
		if in.Layers != nil {
			c.Layers = layers
		}
		if err := c.check(account, ref.Name); err != nil {
			return err
		}
		if c.UnzippedBytes+c.layerBytes() > codepkg.MaxUnzipped {
			return invalid("Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.", codepkg.MaxUnzipped, c.UnzippedBytes+c.layerBytes())
		}
		v.Config = c.marshal()
		v.RevisionID, v.LastModified = sandbox.NewRequestID(), now()
		cfg = c
		return nil
	})
	if err != nil {
		return FunctionConfiguration{}, s.updateErr(err, ref, account)
	}
	return documentOf(v, cfg), nil
}

// ownRef parses a FunctionName and refuses a name in another account:
// on Lambda that needs a resource policy naming the caller, which the
// emulated accounts never grant to each other.
func (s *Service) ownRef(account, name, qualifier string) (functionRef, error) {
	ref, err := parseFunctionRef(name, qualifier)
	if err != nil {
		return ref, err
	}
	if ref.Account != "" && ref.Account != account {
		return ref, accessDenied("User: arn:aws:iam::%s:root is not authorized to perform this action on resource: %s because no resource-based policy allows it", account, functionARN(ref.Account, ref.Name))
	}
	return ref, nil
}

// GetFunctionOutput is GetFunction's answer.
type GetFunctionOutput struct {
	Configuration FunctionConfiguration `json:"Configuration"`
	Code          CodeLocation          `json:"Code"`
	Concurrency   *Concurrency          `json:"Concurrency,omitempty"`
	Tags          map[string]string     `json:"Tags,omitempty"`
}

// CodeLocation says where the package can be downloaded.
type CodeLocation struct {
	RepositoryType string `json:"RepositoryType"`
	Location       string `json:"Location"`
}

// Concurrency is a function's reserved concurrency.
type Concurrency struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

// version finds the stored version a reference names: $LATEST, a number,
// or an alias's primary version.
func (s *Service) version(ctx context.Context, account string, ref functionRef) (store.LambdaVersion, versionConfig, error) {
	q := ref.Qualifier
	if q == "" {
		q = "$LATEST"
	}
	if q != "$LATEST" && !isVersionNumber(q) {
		a, err := s.db.Alias(ctx, account, ref.Name, q)
		if err != nil {
			return store.LambdaVersion{}, versionConfig{}, storeErr(err, "Function not found: "+ref.arn(account))
		}
		q = a.Version
	}
	v, err := s.db.FunctionVersion(ctx, account, ref.Name, q)
	if err != nil {
		return store.LambdaVersion{}, versionConfig{}, storeErr(err, "Function not found: "+ref.arn(account))
	}
	c, err := parseConfig(v.Config)
	return v, c, err
}

// GetFunctionConfiguration describes $LATEST, a version, or an alias's version.
func (s *Service) GetFunctionConfiguration(ctx context.Context, account, name, qualifier string) (FunctionConfiguration, error) {
	ref, err := s.ownRef(account, name, qualifier)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	v, c, err := s.version(ctx, account, ref)
	if err != nil {
		return FunctionConfiguration{}, err
	}
	d := documentOf(v, c)
	if ref.Qualifier != "" && ref.Qualifier != v.Version {
		d.FunctionArn = ref.arn(account) // an alias: Lambda shows the alias ARN
	}
	return d, nil
}

// GetFunction describes a function with where its code is and its
// reserved concurrency. codeURL makes the download link for a package.
func (s *Service) GetFunction(ctx context.Context, account, name, qualifier string, codeURL func(sha string) string) (GetFunctionOutput, error) {
	cfg, err := s.GetFunctionConfiguration(ctx, account, name, qualifier)
	if err != nil {
		return GetFunctionOutput{}, err
	}
	out := GetFunctionOutput{Configuration: cfg, Code: CodeLocation{RepositoryType: "S3"}}
	if codeURL != nil {
		out.Code.Location = codeURL(cfg.CodeSha256)
	}
	f, err := s.db.LambdaFunction(ctx, account, cfg.FunctionName)
	if err != nil {
		return GetFunctionOutput{}, storeErr(err, "Function not found: "+functionARN(account, cfg.FunctionName))
	}
	if f.ReservedConcurrency != nil {
		out.Concurrency = &Concurrency{ReservedConcurrentExecutions: f.ReservedConcurrency}
	}
	return out, nil
}

// OpenCode opens the zip of a package that one of the account's function
// or layer versions uses, for the download link GetFunction hands out.
func (s *Service) OpenCode(ctx context.Context, sha string) (*os.File, error) {
	f, err := s.pkgs.Open(sha)
	if err != nil {
		if errors.Is(err, codepkg.ErrNotFound) {
			return nil, notFound("package not found")
		}
		return nil, err
	}
	return f, nil
}

// ListFunctionsOutput is one page of ListFunctions.
type ListFunctionsOutput struct {
	Functions  []FunctionConfiguration `json:"Functions"`
	NextMarker string                  `json:"NextMarker,omitempty"`
}

// ListFunctions pages through the account's functions ($LATEST of each)
// by name; marker is the previous page's NextMarker.
func (s *Service) ListFunctions(ctx context.Context, account, marker string, maxItems int) (ListFunctionsOutput, error) {
	if maxItems <= 0 || maxItems > 50 {
		maxItems = 50
	}
	vs, err := s.db.ListFunctions(ctx, account, marker, maxItems+1)
	if err != nil {
		return ListFunctionsOutput{}, fmt.Errorf("list functions: %w", err)
	}
	out := ListFunctionsOutput{Functions: []FunctionConfiguration{}}
	for i, v := range vs {
		if i == maxItems {
			out.NextMarker = vs[i-1].Function
			break
		}
		c, err := parseConfig(v.Config)
		if err != nil {
			return ListFunctionsOutput{}, err
		}
		out.Functions = append(out.Functions, documentOf(v, c))
	}
	return out, nil
}

// ListFunctionsAllVersions is ListFunctions with FunctionVersion=ALL: each
// function of the page is followed by its published versions.
func (s *Service) ListFunctionsAllVersions(ctx context.Context, account, marker string, maxItems int) (ListFunctionsOutput, error) {
	page, err := s.ListFunctions(ctx, account, marker, maxItems)
	if err != nil {
		return page, err
	}
	all := make([]FunctionConfiguration, 0, len(page.Functions))
	for _, f := range page.Functions {
		all = append(all, f)
		vs, err := s.db.ListFunctionVersions(ctx, account, f.FunctionName, "$LATEST", 10000)
		if err != nil {
			return page, fmt.Errorf("list versions of %s: %w", f.FunctionName, err)
		}
		for _, v := range vs {
			c, err := parseConfig(v.Config)
			if err != nil {
				return page, err
			}
			all = append(all, documentOf(v, c))
		}
	}
	page.Functions = all
	return page, nil
}

// DeleteFunction deletes a whole function, or one published version when
// qualifier names it. Lambda refuses to delete $LATEST alone or an alias
// through this call.
func (s *Service) DeleteFunction(ctx context.Context, account, name, qualifier string) error {
	ref, err := s.ownRef(account, name, qualifier)
	if err != nil {
		return err
	}
	switch {
	case ref.Qualifier == "":
		s.releaseProvisioned(ctx, account, ref.Name, "")
		if err := s.db.DeleteFunction(ctx, account, ref.Name); err != nil {
			return storeErr(err, "Function not found: "+ref.arn(account))
		}
		if e := s.engine.Load(); e != nil {
			e.SetReservedConcurrency(account, ref.Name, nil)
		}
		s.logger.InfoContext(ctx, "function deleted", "account", account, "function", ref.Name)
	case ref.Qualifier == "$LATEST":
		return invalid("$LATEST version cannot be deleted without deleting the function.")
	case !isVersionNumber(ref.Qualifier):
		return invalid("Deletion of aliases is not supported via DeleteFunction. Use DeleteAlias instead.")
	default:
		// What the version's provisioned instances run, known only while
		// the version exists.
		provisioned, perr := s.provisionedTarget(ctx, account, ref.Name, ref.Qualifier)
		if err := s.db.DeleteFunctionVersion(ctx, account, ref.Name, ref.Qualifier); err != nil {
			if errors.Is(err, store.ErrInUse) {
				return conflict("Unable to delete version because the following aliases reference it: %s", aliasList(err))
			}
			return storeErr(err, "Function not found: "+ref.arn(account))
		}
		// The version's provisioned instances go with it.
		if e := s.engine.Load(); e != nil && perr == nil {
			e.SetProvisionedConcurrency(ctx, provisioned, 0)
		}
		if err := s.db.DeleteProvisionedConcurrency(ctx, account, ref.Name, ref.Qualifier); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete provisioned concurrency of %s:%s: %w", ref.Name, ref.Qualifier, err)
		}
	}
	return nil
}

// aliasList pulls the "[a b]" list out of the store's in-use error.
func aliasList(err error) string {
	msg := err.Error()
	if i := strings.LastIndexByte(msg, '['); i >= 0 {
		return msg[i:]
	}
	return msg
}

// SweepPackages removes stored packages that no version or layer version
// of any account uses any more.
func (s *Service) SweepPackages(ctx context.Context) (int, error) {
	keep, err := s.db.ReferencedPackages(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweep packages: %w", err)
	}
	return s.pkgs.Sweep(ctx, keep)
}
