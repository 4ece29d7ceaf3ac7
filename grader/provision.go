package grader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"lambdalab/cloud/lambda"
	"lambdalab/labs"
)

// maxGenerated bounds a generated body, so a lab cannot make the grader
// hold more than a large object's worth of memory.
const maxGenerated = 64 << 20

// BodyBytes makes an object body: inline text, a file of the lab folder, or
// a generated one.
func (e *Env) BodyBytes(b labs.Body) ([]byte, error) {
	switch {
	case b.File != "":
		if e.Lab == nil || e.Lab.FS == nil {
			return nil, fmt.Errorf("body file %s: no lab folder", b.File)
		}
		return fs.ReadFile(e.Lab.FS, b.File)
	case b.Generate != nil:
		g := b.Generate
		if g.Bytes < 0 || g.Bytes > maxGenerated {
			return nil, fmt.Errorf("generated body of %d bytes: at most %d", g.Bytes, maxGenerated)
		}
		if g.Line == "" || g.Bytes == 0 {
			return []byte{}, nil
		}
		var buf bytes.Buffer
		buf.Grow(g.Bytes)
		for buf.Len()+len(g.Line) <= g.Bytes {
			buf.WriteString(g.Line)
		}
		return buf.Bytes(), nil
	}
	return []byte(b.Text), nil
}

// Package zips a function's code from the submission folder dir (the
// function's own code folder when dir is empty), with the files of the
// named ready layers copied in as `pip install -t .` would put them.
func (e *Env) Package(ctx context.Context, fn labs.Function, dir string, bundle []string) ([]byte, error) {
	if e.Files == nil {
		return nil, errors.New("this grading run has no submission folder")
	}
	if dir == "" {
		dir = fn.Code
	}
	if dir == "" {
		dir = "."
	}
	trees := []zipTree{{e.Files, dir}}
	for _, name := range bundle {
		zipPath, err := e.ReadyLayer(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("ready layer %s: %w", name, err)
		}
		lfs, closeLayer, err := openZip(zipPath)
		if err != nil {
			return nil, fmt.Errorf("ready layer %s: %w", name, err)
		}
		defer closeLayer()
		root := "."
		if strings.HasPrefix(fn.Runtime, "python") {
			root = "python" // a Python layer keeps its packages under python/
		} else if strings.HasPrefix(fn.Runtime, "nodejs") {
			root = "nodejs/node_modules"
		}
		trees = append(trees, zipTree{lfs, root})
	}
	return zipPackage(trees...)
}

// Function returns the lab's function of that name.
func (e *Env) Function(name string) (labs.Function, bool) {
	if e.Lab == nil {
		return labs.Function{}, false
	}
	for _, f := range e.Lab.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return labs.Function{}, false
}

// Provision creates the lab's buckets with their seed objects and its
// functions from the submission's code, as a learner's account has them
// when the lab opens.
func (e *Env) Provision(ctx context.Context) error {
	for _, b := range e.Lab.Resources.Buckets {
		if _, err := e.S3.CreateBucket(ctx, &s3sdk.CreateBucketInput{Bucket: aws.String(b.Name)}); err != nil {
			return fmt.Errorf("create bucket %s: %w", b.Name, err)
		}
		for _, o := range b.Objects {
			body, err := e.BodyBytes(o.Body)
			if err != nil {
				return fmt.Errorf("seed object %s/%s: %w", b.Name, o.Key, err)
			}
			if _, err := e.S3.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String(b.Name), Key: aws.String(o.Key), Body: bytes.NewReader(body)}); err != nil {
				return fmt.Errorf("seed object %s/%s: %w", b.Name, o.Key, err)
			}
		}
	}
	for _, fn := range e.Lab.Functions {
		zip, err := e.Package(ctx, fn, "", nil)
		var f *Failure
		if errors.As(err, &f) {
			return Failf("function %s: %s", fn.Name, f.Msg)
		}
		if err != nil {
			return fmt.Errorf("package %s: %w", fn.Name, err)
		}
		if err := e.CreateFunction(ctx, fn, zip); err != nil {
			return err
		}
	}
	return nil
}

// CreateFunction creates one of the lab's functions with its configuration
// from the frontmatter and the package zip. A refusal (a package that
// does not unzip, say) is the submission's fault and fails as such.
func (e *Env) CreateFunction(ctx context.Context, fn labs.Function, zip []byte) error {
	in := lambda.CreateFunctionInput{FunctionName: fn.Name, Code: lambda.FunctionCode{ZipFile: zip}}
	in.Runtime = aws.String(fn.Runtime)
	in.Handler = aws.String(fn.Handler)
	in.Role = aws.String("arn:aws:iam::" + e.Account + ":role/lab-function")
	if fn.MemoryMB > 0 {
		in.MemorySize = aws.Int(fn.MemoryMB)
	}
	if fn.TimeoutS > 0 {
		in.Timeout = aws.Int(fn.TimeoutS)
	}
	if len(fn.Environment) > 0 {
		vars := make(map[string]string, len(fn.Environment))
		for k, v := range fn.Environment {
			x, err := e.Expand(ctx, v)
			if err != nil {
				return fmt.Errorf("environment %s of %s: %w", k, fn.Name, err)
			}
			vars[k] = x
		}
		in.Environment = &lambda.Environment{Variables: vars}
	}
	if _, err := e.Lambda.CreateFunction(ctx, e.Account, in); err != nil {
		if le, ok := lambda.AsError(err); ok {
			return Failf("creating function %s was refused: %s: %s", fn.Name, le.Type, le.Message)
		}
		return fmt.Errorf("create function %s: %w", fn.Name, err)
	}
	return nil
}

// ProvisionMissing gives a copy of a learner's account what the lab
// provides and the learner may not have made: its buckets and their seed
// objects. Nothing the learner made is replaced.
func (e *Env) ProvisionMissing(ctx context.Context) error {
	for _, b := range e.Lab.Resources.Buckets {
		if _, err := e.S3.HeadBucket(ctx, &s3sdk.HeadBucketInput{Bucket: aws.String(b.Name)}); err != nil {
			if _, err := e.S3.CreateBucket(ctx, &s3sdk.CreateBucketInput{Bucket: aws.String(b.Name)}); err != nil {
				return fmt.Errorf("create bucket %s: %w", b.Name, err)
			}
		}
		for _, o := range b.Objects {
			if _, err := e.S3.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(b.Name), Key: aws.String(o.Key)}); err == nil {
				continue
			}
			body, err := e.BodyBytes(o.Body)
			if err != nil {
				return fmt.Errorf("seed object %s/%s: %w", b.Name, o.Key, err)
			}
			if _, err := e.S3.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String(b.Name), Key: aws.String(o.Key), Body: bytes.NewReader(body)}); err != nil {
				return fmt.Errorf("seed object %s/%s: %w", b.Name, o.Key, err)
			}
		}
	}
	return nil
}
