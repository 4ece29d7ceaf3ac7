package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"lambdalab/cloud/codepkg"
	"lambdalab/cloud/lambda"
	"lambdalab/sandbox/docker"
	"lambdalab/store"
)

// xrayLayerName is the layer name `--publish` uses unless told otherwise.
const xrayLayerName = "aws-xray-sdk"

// runXRayLayer builds the ready X-Ray layer (or reuses the one cached in the
// data folder), copies it to --out and prints its size and CodeSha256; with
// --publish it also publishes it as a layer version in a user's account.
func runXRayLayer(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("lambdalab xray-layer", flag.ContinueOnError)
	fl.SetOutput(stderr)
	out := fl.String("out", "./aws-xray-sdk-layer.zip", "where to write the layer zip")
	dataDir := fl.String("data", "./lambdalab-data", "data folder; the layer is cached in DATA/cache/xray-layer and --publish stores its code in DATA/packages (with PostgreSQL too)")
	dbFlag := fl.String("database", "", "with --publish: "+databaseHelp)
	publish := fl.Bool("publish", false, "also publish the zip as a new layer version in the account of --email")
	email := fl.String("email", "", "with --publish: the user whose account gets the layer")
	layer := fl.String("layer", xrayLayerName, "with --publish: the layer's name")
	refresh := fl.Bool("refresh", false, "forget the cached pins and packages: resolve Debian's current versions again")
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("xray-layer: %w", err)
	}
	switch {
	case fl.NArg() > 0:
		return fmt.Errorf("xray-layer: unexpected argument %q", fl.Arg(0))
	case *publish && strings.TrimSpace(*email) == "":
		return errors.New("xray-layer: --publish needs --email (the user whose account gets the layer)")
	case !*publish && *email != "":
		return errors.New("xray-layer: --email only goes with --publish")
	}
	// A publish that cannot happen should not wait for a build first.
	target, err := databaseTarget(*dbFlag, *dataDir, getenv)
	if err != nil {
		return fmt.Errorf("xray-layer: %w", err)
	}
	if *publish {
		if err := requireDatabase(target); err != nil {
			return fmt.Errorf("xray-layer: %w", err)
		}
	}

	cacheDir := filepath.Join(*dataDir, "cache", "xray-layer")
	if *refresh {
		// The pins are what makes a rebuild give the same bytes; only an
		// explicit refresh lets Debian's newer versions in.
		if err := os.RemoveAll(cacheDir); err != nil {
			return fmt.Errorf("xray-layer: %w", err)
		}
	}
	zipPath, err := docker.BuildXRayLayer(ctx, cacheDir, stdout)
	if err != nil {
		return fmt.Errorf("xray-layer: %w", err)
	}
	data, err := os.ReadFile(zipPath)
	if err != nil {
		return fmt.Errorf("xray-layer: %w", err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return fmt.Errorf("xray-layer: %w", err)
	}
	sum := sha256.Sum256(data)
	fmt.Fprintf(stdout, "wrote %s: %d bytes, CodeSha256 %s\n", *out, len(data), base64.StdEncoding.EncodeToString(sum[:]))
	if !*publish {
		return nil
	}

	db, err := store.Open(ctx, target)
	if err != nil {
		return fmt.Errorf("xray-layer: %w", err)
	}
	defer db.Close()
	u, err := db.UserByEmail(ctx, *email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("xray-layer: no user %s in %s", strings.TrimSpace(*email), store.RedactTarget(target))
	case err != nil:
		return fmt.Errorf("xray-layer: %w", err)
	}
	pkgs, err := codepkg.Open(filepath.Join(*dataDir, "packages"))
	if errors.Is(err, codepkg.ErrInUse) {
		return fmt.Errorf("xray-layer: lambdalab serve is running on %s, so the layer cannot be published from here; the zip is in %s: publish it with aws lambda publish-layer-version --layer-name %s --compatible-runtimes python3.13 --zip-file fileb://%s, or stop serve first", *dataDir, *out, *layer, *out)
	}
	if err != nil {
		return fmt.Errorf("xray-layer: %w", err)
	}
	// The store holds a lock on its folder until closed; serve, run after
	// this in the same process (or while this one lives), needs it.
	defer pkgs.Close()
	svc := lambda.New(lambda.Config{DB: db, Packages: pkgs, Logger: slog.New(slog.DiscardHandler)})
	defer svc.Close()
	lv, err := svc.PublishLayerVersion(ctx, u.AccountID, *layer, lambda.PublishLayerInput{
		Content:                 lambda.FunctionCode{ZipFile: data},
		CompatibleRuntimes:      []string{"python3.13"},
		CompatibleArchitectures: []string{lambdaArch(runtime.GOARCH)},
		Description:             xrayLayerDescription(data),
		LicenseInfo:             "Apache-2.0",
	})
	if err != nil {
		return fmt.Errorf("xray-layer: publish in %s's account: %w", u.Email, err)
	}
	fmt.Fprintf(stdout, "published %s (CodeSha256 %s)\n", lv.LayerVersionArn, lv.Content.CodeSha256)
	return nil
}

// lambdaArch is Lambda's name for a Go architecture.
func lambdaArch(goarch string) string {
	if goarch == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

// xrayLayerDescription names the SDK's Debian version from the layer's
// manifest, e.g. "AWS X-Ray SDK for Python 0.95-4 (Debian trixie) and its
// dependencies".
func xrayLayerDescription(zipData []byte) string {
	version := "?"
	if zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData))); err == nil {
		if f, err := zr.Open(docker.XRayLayerManifest); err == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			for line := range strings.Lines(string(b)) {
				if fields := strings.Fields(line); len(fields) > 1 && fields[0] == "python3-aws-xray-sdk" {
					version = fields[1]
				}
			}
		}
	}
	return "AWS X-Ray SDK for Python " + version + " (Debian trixie) and its dependencies"
}
