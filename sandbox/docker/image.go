package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/moby/go-archive"

	"lambdalab/sandbox/runtimes"
)

// The runtime image is built in two stages so that editing a runtime client
// re-layers in seconds instead of re-running debootstrap for minutes:
//
//	lambdalab/runtime-base:<digest of suite and packages>   Debian + packages, nothing of ours
//	lambdalab/runtime:<digest of base, setup and clients>    user, directories, links, /var/runtime
//
// Both tags carry a digest of what went into them, so a changed recipe is a
// new tag and an unchanged one is found and reused.
const (
	// RuntimeRepo is the repository of the finished runtime image.
	RuntimeRepo = "lambdalab/runtime"
	baseRepo    = "lambdalab/runtime-base"

	// recipeVersion changes whenever the recipe changes in a way the package
	// list, the setup script and the client files do not show: the base's
	// Dockerfile, debootstrap's arguments and exclusions, the import changes.
	recipeVersion = "1"
	debianSuite   = "trixie"
	// slimImage is used only when a registry answers (builder "docker build").
	slimImage = "debian:trixie-slim"

	labelImage  = "lambdalab.image" // "runtime" or "runtime-base": ours to remove when stale
	labelRecipe = "lambdalab.recipe"
)

// basePackages are installed into the base image with their dependencies
// (not their recommendations). No X-Ray SDK: the X-Ray lab ships it as a layer.
var basePackages = []string{"ca-certificates", "nodejs", "python3", "python3-boto3"}

// setupScript runs inside the image, as root, as the first step on top of the
// base. It makes the file system look like Lambda's where programs look:
// sbx_user1051 (uid 993), /var/task, /opt, /var/lang/bin.
const setupScript = `#!/bin/sh
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
groupadd --system --gid 993 sbx_user1051
useradd --system --uid 993 --gid 993 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin sbx_user1051
mkdir -p /var/task /opt /tmp /var/run/lambdalab /var/lang/bin /var/runtime
chmod 1777 /tmp
chmod 0755 /var/task /opt /var/run/lambdalab /var/lang /var/lang/bin /var/runtime
ln -sf /usr/bin/python3.13 /var/lang/bin/python3.13
ln -sf python3.13 /var/lang/bin/python3
ln -sf python3.13 /var/lang/bin/python
ln -sf /usr/bin/node /var/lang/bin/node
# the container's command is bind-mounted here from the host
touch /var/runtime/lambdalab-init
chmod 0755 /var/runtime/lambdalab-init
# smoke test: the runtimes the course promises are really there
/var/lang/bin/python3.13 -c 'import boto3, sys; assert sys.version_info[:2] == (3, 13), sys.version'
/var/lang/bin/node -e 'if (process.versions.node.split(".")[0] !== "20") { throw new Error("node " + process.versions.node) }'
`

// runtimeClients is the tree copied to /var/runtime: the Python, Node.js and
// provided runtime clients.
var runtimeClients fs.FS = runtimes.FS

// EnsureImage makes sure the runtime image for the current recipe exists,
// building it when needed (or always, with rebuild), and returns its
// reference. It writes one progress line per step to progress. When the image
// already exists it returns at once.
func EnsureImage(ctx context.Context, progress io.Writer, rebuild bool) (string, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return "", fmt.Errorf("connect to docker: %w", err)
	}
	defer cli.Close()
	b := &imageBuilder{cli: cli, out: progress, clients: runtimeClients}
	return b.ensure(ctx, rebuild)
}

type imageBuilder struct {
	cli     *client.Client
	out     io.Writer
	clients fs.FS
	// keepStale leaves other runtime tags alone (tests that build a variant
	// must not remove the image everyone else uses).
	keepStale bool
}

func (b *imageBuilder) say(format string, args ...any) {
	fmt.Fprintf(b.out, "image: "+format+"\n", args...)
}

func (b *imageBuilder) ensure(ctx context.Context, rebuild bool) (string, error) {
	start := time.Now()
	baseDigest := digestStrings("base", recipeVersion, debianSuite, strings.Join(basePackages, ","))
	baseRef := baseRepo + ":" + baseDigest[:12]
	files, err := collectFiles(b.clients)
	if err != nil {
		return "", fmt.Errorf("read runtime clients: %w", err)
	}
	fullDigest := digestStrings("runtime", baseDigest, setupScript, filesDigest(files))
	ref := RuntimeRepo + ":" + fullDigest[:12]

	if !rebuild {
		if ok, err := b.exists(ctx, ref); err != nil || ok {
			if ok {
				b.say("%s is ready", ref)
			}
			return ref, err
		}
	}

	// One build at a time on this machine: parallel test binaries all ask
	// for the image, and only the first should pay for it.
	unlock, err := lockFile(ctx, filepath.Join(os.TempDir(), "lambdalab-image.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if !rebuild {
		if ok, err := b.exists(ctx, ref); err != nil || ok {
			if ok {
				b.say("%s is ready (built by another process)", ref)
			}
			return ref, err
		}
	}

	var oldIDs []string // images that lose their tag on a rebuild
	if rebuild {
		for _, r := range []string{baseRef, ref} {
			if insp, err := b.cli.ImageInspect(ctx, r); err == nil {
				oldIDs = append(oldIDs, insp.ID)
			}
		}
	}

	haveBase := false
	if !rebuild {
		if haveBase, err = b.exists(ctx, baseRef); err != nil {
			return "", err
		}
	}
	if haveBase {
		b.say("base %s is cached", baseRef)
	} else if err := b.buildBase(ctx, baseRef, baseDigest); err != nil {
		return "", err
	}

	b.say("layering runtime clients (%d files) onto %s", len(files), baseRef)
	if err := b.buildRuntime(ctx, baseRef, ref, fullDigest, files); err != nil {
		return "", err
	}
	if !b.keepStale {
		b.removeStale(ctx, map[string]bool{ref: true, baseRef: true}, oldIDs)
	}
	b.say("built %s in %s", ref, time.Since(start).Round(100*time.Millisecond))
	return ref, nil
}

func (b *imageBuilder) exists(ctx context.Context, ref string) (bool, error) {
	_, err := b.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case client.IsErrNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
}

// buildBase builds Debian with basePackages, from debian:trixie-slim when it
// is present or can be pulled, otherwise from Debian's package archive with
// debootstrap (no container registry needed).
func (b *imageBuilder) buildBase(ctx context.Context, baseRef, digest string) error {
	if b.haveSlim(ctx) {
		b.say("building base %s from %s with apt-get", baseRef, slimImage)
		dockerfile := fmt.Sprintf("FROM %s\n"+
			"RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s && rm -rf /var/lib/apt/lists/*\n"+
			"LABEL %s=runtime-base %s=%s\n",
			slimImage, strings.Join(basePackages, " "), labelImage, labelRecipe, digest)
		return b.dockerBuild(ctx, baseRef, map[string][]byte{"Dockerfile": []byte(dockerfile)}, nil)
	}
	return b.debootstrapBase(ctx, baseRef, digest)
}

func (b *imageBuilder) haveSlim(ctx context.Context) bool {
	if ok, _ := b.exists(ctx, slimImage); ok {
		return true
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rc, err := b.cli.ImagePull(pctx, slimImage, image.PullOptions{})
	if err != nil {
		b.say("no registry answers (%v): building offline with debootstrap", firstLine(err.Error()))
		return false
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		b.say("pull %s: %v: building offline with debootstrap", slimImage, err)
		return false
	}
	return true
}

func (b *imageBuilder) debootstrapBase(ctx context.Context, baseRef, digest string) error {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("no registry answers and debootstrap is not installed: run scripts/deps.sh docker (or apt-get install debootstrap)")
	}
	if os.Geteuid() != 0 {
		return errors.New("the offline image build runs debootstrap, which needs root: run `lambdalab image` as root once")
	}
	dir, err := os.MkdirTemp("", "lambdalab-rootfs-")
	if err != nil {
		return fmt.Errorf("make rootfs dir: %w", err)
	}
	defer os.RemoveAll(dir)

	b.say("building base %s with debootstrap %s (a few minutes)", baseRef, debianSuite)
	t0 := time.Now()
	// No mirror argument: debootstrap's own default is the right archive.
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase",
		"--include="+strings.Join(basePackages, ","), debianSuite, dir)
	lw := &debootstrapLog{out: b.out}
	cmd.Stdout, cmd.Stderr = lw, lw
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		lw.flush()
		return fmt.Errorf("debootstrap %s: %w (last output: %s)", debianSuite, err, lw.tail())
	}
	lw.flush()
	b.say("debootstrap done in %s", time.Since(t0).Round(time.Second))

	t0 = time.Now()
	tarball, err := archive.TarWithOptions(dir, &archive.TarOptions{
		// What the image does not need: device nodes (Docker provides /dev),
		// downloaded packages and package lists.
		ExcludePatterns: []string{
			"dev/*", "proc/*", "sys/*", "run/*", "tmp/*",
			"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin",
			"var/lib/apt/lists/*_*", "debootstrap",
		},
	})
	if err != nil {
		return fmt.Errorf("tar rootfs: %w", err)
	}
	defer tarball.Close()
	b.say("importing rootfs into docker as %s", baseRef)
	rc, err := b.cli.ImageImport(ctx, image.ImportSource{Source: tarball, SourceName: "-"}, baseRef, image.ImportOptions{
		Message: "lambdalab runtime base (debootstrap " + debianSuite + ")",
		Changes: []string{
			"ENV PATH=/usr/local/bin:/usr/bin:/bin",
			fmt.Sprintf("LABEL %s=runtime-base %s=%s", labelImage, labelRecipe, digest),
		},
	})
	if err != nil {
		return fmt.Errorf("import rootfs as %s: %w", baseRef, err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("import rootfs as %s: %w", baseRef, err)
	}
	b.say("import done in %s", time.Since(t0).Round(time.Second))
	return nil
}

// buildRuntime layers the setup and the runtime clients onto the base. The
// classic builder uses the local base image and never contacts a registry.
func (b *imageBuilder) buildRuntime(ctx context.Context, baseRef, ref, digest string, files []clientFile) error {
	dockerfile := fmt.Sprintf(`FROM %s
COPY setup.sh /usr/local/lib/lambdalab/setup.sh
RUN ["/bin/sh", "/usr/local/lib/lambdalab/setup.sh"]
COPY runtime/ /var/runtime/
ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TZ=:UTC
WORKDIR /var/task
LABEL %s=runtime %s=%s
`, baseRef, labelImage, labelRecipe, digest)
	ctxFiles := map[string][]byte{"Dockerfile": []byte(dockerfile), "setup.sh": []byte(setupScript)}
	return b.dockerBuild(ctx, ref, ctxFiles, files)
}

func (b *imageBuilder) dockerBuild(ctx context.Context, ref string, top map[string][]byte, clients []clientFile) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range top {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		if err := writeTarFile(tw, n, 0o644, top[n]); err != nil {
			return err
		}
	}
	if clients != nil {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "runtime/", Mode: 0o755}); err != nil {
			return err
		}
		for _, f := range clients {
			if err := writeTarFile(tw, "runtime/"+f.name, f.mode, f.data); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := b.cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags:        []string{ref},
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		Version:     build.BuilderV1,
		NetworkMode: "default",
		// No lambdalab=1 label here: containers inherit image labels, and
		// that one marks sandbox containers for Sweep.
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, &prefixWriter{out: b.out, prefix: "  "}, 0, false, nil); err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	return nil
}

// removeStale removes our runtime images other than keep, and images that
// lost their tag to a rebuild. A stale image still used by a container stays.
func (b *imageBuilder) removeStale(ctx context.Context, keep map[string]bool, oldIDs []string) {
	imgs, err := b.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labelImage))})
	if err != nil {
		b.say("list old images: %v", err)
		return
	}
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			repo, _, _ := strings.Cut(tag, ":")
			if keep[tag] || (repo != RuntimeRepo && repo != baseRepo) {
				continue
			}
			if _, err := b.cli.ImageRemove(ctx, tag, image.RemoveOptions{PruneChildren: true}); err != nil {
				b.say("keep stale %s: %v", tag, firstLine(err.Error()))
				continue
			}
			b.say("removed stale %s", tag)
		}
	}
	for _, id := range oldIDs {
		insp, err := b.cli.ImageInspect(ctx, id)
		if err != nil || len(insp.RepoTags) > 0 {
			continue // gone already, or still tagged (the rebuild produced the same image)
		}
		if _, err := b.cli.ImageRemove(ctx, id, image.RemoveOptions{PruneChildren: true}); err == nil {
			b.say("removed replaced image %s", shortID(id))
		}
	}
}

type clientFile struct {
	name string
	mode int64
	data []byte
}

// collectFiles reads every regular file of fsys in a stable order, with the
// mode runtimes.FileMode gives it (embed.FS reports every file as 0444).
func collectFiles(fsys fs.FS) ([]clientFile, error) {
	var files []clientFile
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files = append(files, clientFile{name: p, mode: int64(runtimes.FileMode(p).Perm()), data: data})
		return nil
	})
	return files, err
}

func filesDigest(files []clientFile) string {
	h := sha256.New()
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		fmt.Fprintf(h, "%s %o %x\n", f.name, f.mode, sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func digestStrings(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeTarFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	// Parent directories are implied; the builder creates them 0755, root-owned.
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Unix(0, 0)}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar %s: %w", name, err)
	}
	_, err := tw.Write(data)
	return err
}

// lockFile takes an exclusive flock on p, waiting until ctx ends.
func lockFile(ctx context.Context, p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open image lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for another image build: %w", ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// debootstrapLog condenses debootstrap's hundreds of per-package lines into
// one line per phase ("Retrieving … (n packages)") and passes warnings and
// errors through. It keeps the last lines for the error message.
type debootstrapLog struct {
	out     io.Writer
	partial []byte
	verb    string
	first   string
	count   int
	last    []string
}

func (l *debootstrapLog) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *debootstrapLog) line(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	l.last = append(l.last, s)
	if len(l.last) > 5 {
		l.last = l.last[1:]
	}
	verb := ""
	if rest, ok := strings.CutPrefix(s, "I: "); ok {
		verb, _, _ = strings.Cut(rest, " ")
		if verb == "Validating" {
			verb = "Retrieving" // they alternate, package by package
		}
	}
	if verb != "" && verb == l.verb {
		l.count++
		return
	}
	l.flush()
	if verb == "" {
		fmt.Fprintf(l.out, "  debootstrap: %s\n", s)
		return
	}
	l.verb, l.first, l.count = verb, s, 1
}

func (l *debootstrapLog) flush() {
	if l.verb == "" {
		return
	}
	if l.count > 1 {
		fmt.Fprintf(l.out, "  debootstrap: %s … (%d lines)\n", l.first, l.count)
	} else {
		fmt.Fprintf(l.out, "  debootstrap: %s\n", l.first)
	}
	l.verb, l.count = "", 0
}

func (l *debootstrapLog) tail() string { return strings.Join(l.last, " | ") }

// ansiColour matches the colour codes the classic builder puts around a
// step's stderr.
var ansiColour = regexp.MustCompile("\x1b\\[[0-9;]*m")

// prefixWriter indents each line of a sub-step's output and drops colour codes.
type prefixWriter struct {
	out    io.Writer
	prefix string
	mid    bool
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	for _, chunk := range bytes.SplitAfter(p, []byte("\n")) {
		if len(chunk) == 0 {
			continue
		}
		if !w.mid {
			io.WriteString(w.out, w.prefix)
		}
		w.out.Write(ansiColour.ReplaceAll(chunk, nil))
		w.mid = !bytes.HasSuffix(chunk, []byte("\n"))
	}
	return len(p), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}
