package docker

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// The ready X-Ray layer is Debian trixie's python3-aws-xray-sdk with every
// Python package it needs that the runtime image lacks, as a Lambda layer zip
// with the modules under python/ (reference/lambda-behaviour.md §12: Lambda
// puts /opt/python on sys.path). DESIGN.md keeps the SDK out of the image on
// purpose: the X-Ray lab is about shipping it as a layer.
//
// It is built in three steps, each cached in the cache directory:
//
//	pins-<recipe>.txt         what apt-get would install on top of the runtime
//	                          image, with versions and .deb digests (resolved once,
//	                          then reused: the same pins give the same zip)
//	debs/*.deb                the pinned packages, fetched by apt-get download
//	aws-xray-sdk-<key>.zip    the layer; key is a digest of the pins
//
// Resolving and fetching run apt-get in a short-lived container of the
// runtime image (it is trixie, with trixie's sources), so no container
// registry and no host apt are needed, only a route from containers to
// Debian's archive. Unpacking runs dpkg-deb in a second container with no
// network; the zip itself is written here, deterministically.
const (
	// xrayLayerRecipe changes whenever the layer's recipe changes in a way
	// the package roots do not show: the scripts, the zip layout.
	xrayLayerRecipe = "1"
	xrayLayerPrefix = "aws-xray-sdk-"
	// XRayLayerManifest is the file inside the zip that records the recipe
	// and the exact Debian packages (name, version, architecture, SHA-256).
	XRayLayerManifest = "python/LAMBDALAB-LAYER.txt"
	// xrayLicenseDir holds each package's Debian copyright file in the zip.
	xrayLicenseDir = "python/LAMBDALAB-LICENSES/"
	labelBuild     = "lambdalab.build" // on the helper containers, never "lambdalab" (Sweep's)
)

// xrayLayerRoots are the packages asked for. pkg_resources is not among the
// SDK's Debian dependencies, yet the SDK imports it (checked on trixie).
var xrayLayerRoots = []string{"python3-aws-xray-sdk", "python3-pkg-resources"}

// zipEpoch is every entry's modification time: the earliest a zip can hold,
// so that two builds of the same packages are byte for byte the same.
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrNoArchive means no container could reach Debian's package archive, so
// the layer's packages could not be resolved or fetched.
var ErrNoArchive = errors.New("no container reaches Debian's package archive")

// BuildXRayLayer returns the path of the ready X-Ray layer zip in cacheDir,
// building it when the cache has none for the current recipe: it makes sure
// the runtime image exists, resolves and fetches the packages from Debian's
// archive (once; later builds reuse the pins and the .debs offline) and
// packs them. It writes one progress line per step to progress. A cached zip
// is returned without touching Docker.
func BuildXRayLayer(ctx context.Context, cacheDir string, progress io.Writer) (string, error) {
	lb := &layerBuilder{dir: cacheDir, out: progress, network: "default"}
	if p, ok := lb.cached(); ok {
		lb.say("%s is ready", filepath.Base(p))
		return p, nil
	}
	ref, err := EnsureImage(ctx, progress, false)
	if err != nil {
		return "", err
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return "", fmt.Errorf("connect to docker: %w", err)
	}
	defer cli.Close()
	lb.cli, lb.image = cli, ref
	return lb.build(ctx)
}

type layerBuilder struct {
	cli   *client.Client
	image string // the runtime image the helper containers run
	dir   string
	out   io.Writer
	// network is the fetching container's network mode; tests set "none"
	// to see what a machine without a route to the archive gets.
	network string
}

func (lb *layerBuilder) say(format string, args ...any) {
	fmt.Fprintf(lb.out, "xray-layer: "+format+"\n", args...)
}

// recipe is a digest of everything that decides which packages are pinned:
// the roots, the runtime image's base recipe (what it already has), the
// architecture and this recipe's version.
func (lb *layerBuilder) recipe() string {
	base := digestStrings("base", recipeVersion, debianSuite, strings.Join(basePackages, ","))
	return digestStrings("xray-layer", xrayLayerRecipe, base, runtime.GOARCH, strings.Join(xrayLayerRoots, ","))[:12]
}

func (lb *layerBuilder) pinsPath() string { return filepath.Join(lb.dir, "pins-"+lb.recipe()+".txt") }
func (lb *layerBuilder) debDir() string   { return filepath.Join(lb.dir, "debs") }

func zipName(manifest []byte) string {
	return xrayLayerPrefix + digestStrings("xray-zip", xrayLayerRecipe, string(manifest))[:12] + ".zip"
}

// cached returns the zip for the current pins when both exist.
func (lb *layerBuilder) cached() (string, bool) {
	data, err := os.ReadFile(lb.pinsPath())
	if err != nil {
		return "", false
	}
	if _, err := parsePins(data); err != nil {
		return "", false
	}
	p := filepath.Join(lb.dir, zipName(data))
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}

// pin is one Debian package of the layer.
type pin struct {
	Package, Version, Arch string
	SHA256                 string // of the .deb; empty until fetched
}

// debFile is the name apt-get download gives the package's file.
func (p pin) debFile() string {
	return p.Package + "_" + strings.ReplaceAll(p.Version, ":", "%3a") + "_" + p.Arch + ".deb"
}

// formatPins renders the manifest: comments, then one package a line,
// sorted, as "name version arch sha256:hex".
func formatPins(pins []pin) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# lambdalab ready X-Ray layer, recipe %s: Debian %s packages for python3.13 (%s)\n", xrayLayerRecipe, debianSuite, runtime.GOARCH)
	fmt.Fprintf(&b, "# asked for: %s; listed: what apt-get installs on top of the runtime image\n", strings.Join(xrayLayerRoots, " "))
	fmt.Fprintf(&b, "# modules in python/ (/opt/python is on sys.path), Debian copyright files in %s\n", strings.TrimPrefix(xrayLicenseDir, "python/"))
	for _, p := range pins {
		fmt.Fprintf(&b, "%s %s %s sha256:%s\n", p.Package, p.Version, p.Arch, p.SHA256)
	}
	return b.Bytes()
}

func parsePins(data []byte) ([]pin, error) {
	var pins []pin
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		sum, ok := strings.CutPrefix(f[len(f)-1], "sha256:")
		if len(f) != 4 || !ok || len(sum) != 64 {
			return nil, fmt.Errorf("bad pin line %q", line)
		}
		pins = append(pins, pin{Package: f[0], Version: f[1], Arch: f[2], SHA256: sum})
	}
	if len(pins) == 0 {
		return nil, errors.New("no packages pinned")
	}
	return pins, sc.Err()
}

func (lb *layerBuilder) build(ctx context.Context) (string, error) {
	start := time.Now()
	if err := os.MkdirAll(lb.debDir(), 0o755); err != nil {
		return "", fmt.Errorf("make layer cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(lb.dir, "build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if p, ok := lb.cached(); ok {
		lb.say("%s is ready (built by another process)", filepath.Base(p))
		return p, nil
	}

	var pins []pin
	if data, err := os.ReadFile(lb.pinsPath()); err == nil {
		if pins, err = parsePins(data); err != nil {
			return "", fmt.Errorf("read %s: %w (delete it to resolve the packages again)", lb.pinsPath(), err)
		}
	}
	if pins == nil || lb.missingDebs(pins) != nil {
		if pins, err = lb.fetch(ctx, pins); err != nil {
			return "", err
		}
	}
	manifest := formatPins(pins)
	if err := writeFileAtomic(lb.pinsPath(), manifest); err != nil {
		return "", err
	}

	lb.say("unpacking %d packages (no network)", len(pins))
	tree, err := lb.unpack(ctx, pins)
	if err != nil {
		return "", err
	}
	zipData, err := layerZip(tree, manifest)
	if err != nil {
		return "", err
	}
	p := filepath.Join(lb.dir, zipName(manifest))
	if err := writeFileAtomic(p, zipData); err != nil {
		return "", err
	}
	lb.removeStale(pins, filepath.Base(p))
	sum := sha256.Sum256(zipData)
	lb.say("built %s (%d bytes, sha256 %s) in %s", filepath.Base(p), len(zipData), hex.EncodeToString(sum[:8]), time.Since(start).Round(100*time.Millisecond))
	return p, nil
}

// missingDebs names the pinned packages whose .deb is not in the cache
// with the pinned digest.
func (lb *layerBuilder) missingDebs(pins []pin) []string {
	var missing []string
	for _, p := range pins {
		data, err := os.ReadFile(filepath.Join(lb.debDir(), p.debFile()))
		sum := sha256.Sum256(data)
		if err != nil || hex.EncodeToString(sum[:]) != p.SHA256 {
			missing = append(missing, p.Package)
		}
	}
	return missing
}

// fetchScript resolves the roots against the runtime image (when no pins
// are given in /work/want.txt) and downloads the packages to /work/debs.
// apt-get verifies each .deb against the archive's signed index.
const fetchScript = `#!/bin/sh
set -eu
export DEBIAN_FRONTEND=noninteractive
cd /work
if ! apt-get update --error-on=any -q >update.log 2>&1; then
	echo "apt-get update failed" >&2
	grep -E '^(E|W|Err):' update.log | tail -n 4 >&2 || tail -n 4 update.log >&2
	exit 10
fi
if [ ! -s want.txt ]; then
	# "Inst name (version suite [arch])": exactly what the image lacks.
	apt-get install -s --no-install-recommends "$@" >plan.txt
	sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*\[\([^]]*\)\].*/\1 \2 \3/p' plan.txt >want.txt
	[ -s want.txt ] || { echo "apt-get plans to install nothing for $*:" >&2; tail -n 5 plan.txt >&2; exit 11; }
fi
mkdir -p debs
cd debs
# As root into a folder _apt cannot read: say so once, not per package.
apt-get download -q -o APT::Sandbox::User=root $(awk '{print $1 "=" $2}' ../want.txt) >../download.log 2>&1 || {
	echo "apt-get download failed:" >&2; tail -n 4 ../download.log >&2; exit 12; }
`

// fetch resolves the packages (when pins is nil) and downloads them into
// the cache, returning the pins with their digests.
func (lb *layerBuilder) fetch(ctx context.Context, pins []pin) ([]pin, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var want bytes.Buffer
	if pins == nil {
		lb.say("resolving %s against %s from Debian %s", strings.Join(xrayLayerRoots, ", "), lb.image, debianSuite)
	} else {
		lb.say("fetching %d pinned packages from Debian %s", len(pins), debianSuite)
		for _, p := range pins {
			fmt.Fprintf(&want, "%s %s %s\n", p.Package, p.Version, p.Arch)
		}
	}
	t0 := time.Now()
	files := map[string][]byte{"fetch.sh": []byte(fetchScript), "want.txt": want.Bytes()}
	cmd := append([]string{"/bin/sh", "/work/fetch.sh"}, xrayLayerRoots...)
	code, logs, out, err := lb.runHelper(ctx, lb.network, cmd, files)
	if err != nil {
		return nil, err
	}
	switch code {
	case 0:
	case 10:
		return nil, fmt.Errorf("%w (%s). The X-Ray layer is made of Debian %s packages that a container of %s downloads with apt-get: give Docker containers a route to deb.debian.org (or put a reachable mirror in the image's /etc/apt/sources.list), then run `lambdalab xray-layer` again",
			ErrNoArchive, oneLine(logs), debianSuite, lb.image)
	case 12:
		if pins != nil {
			return nil, fmt.Errorf("fetch pinned packages: %s: the archive may have moved on; delete %s to resolve the current versions", oneLine(logs), lb.pinsPath())
		}
		fallthrough
	default:
		return nil, fmt.Errorf("fetch X-Ray layer packages: exit %d: %s", code, oneLine(logs))
	}

	got := map[string][]byte{}
	var wantTxt []byte
	for name, f := range out {
		switch {
		case name == "want.txt":
			wantTxt = f.data
		case path.Dir(name) == "debs" && strings.HasSuffix(name, ".deb"):
			got[path.Base(name)] = f.data
		}
	}
	if pins == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(wantTxt)), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				return nil, fmt.Errorf("resolve X-Ray layer packages: bad plan line %q", line)
			}
			pins = append(pins, pin{Package: f[0], Version: f[1], Arch: f[2]})
		}
		slices.SortFunc(pins, func(a, b pin) int { return strings.Compare(a.Package, b.Package) })
	}
	for i, p := range pins {
		data, ok := got[p.debFile()]
		if !ok {
			return nil, fmt.Errorf("fetch X-Ray layer packages: apt-get download left no %s", p.debFile())
		}
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		if p.SHA256 != "" && p.SHA256 != hexSum {
			return nil, fmt.Errorf("fetch X-Ray layer packages: %s has sha256 %s, pinned %s; delete %s to resolve again", p.debFile(), hexSum, p.SHA256, lb.pinsPath())
		}
		pins[i].SHA256 = hexSum
		if err := writeFileAtomic(filepath.Join(lb.debDir(), p.debFile()), data); err != nil {
			return nil, err
		}
	}
	lb.say("fetched %d packages in %s", len(pins), time.Since(t0).Round(100*time.Millisecond))
	return pins, nil
}

// unpackScript extracts every .deb of /work/debs into /work/root.
const unpackScript = `#!/bin/sh
set -eu
mkdir -p /work/root
for f in /work/debs/*.deb; do dpkg-deb -x "$f" /work/root; done
`

// unpack runs dpkg-deb over the cached .debs in a container without
// network and returns the extracted tree's regular files, by path below
// the root (e.g. "usr/lib/python3/dist-packages/wrapt/__init__.py").
func (lb *layerBuilder) unpack(ctx context.Context, pins []pin) (map[string]treeFile, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	files := map[string][]byte{"unpack.sh": []byte(unpackScript)}
	for _, p := range pins {
		data, err := os.ReadFile(filepath.Join(lb.debDir(), p.debFile()))
		if err != nil {
			return nil, fmt.Errorf("read cached package: %w", err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != p.SHA256 {
			return nil, fmt.Errorf("cached %s does not match its pin; delete %s to fetch it again", p.debFile(), lb.debDir())
		}
		files["debs/"+p.debFile()] = data
	}
	code, logs, out, err := lb.runHelper(ctx, "none", []string{"/bin/sh", "/work/unpack.sh"}, files)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("unpack X-Ray layer packages: exit %d: %s", code, oneLine(logs))
	}
	tree := map[string]treeFile{}
	for name, f := range out {
		if rest, ok := strings.CutPrefix(name, "root/"); ok {
			tree[rest] = f
		}
	}
	if len(tree) == 0 {
		return nil, errors.New("unpack X-Ray layer packages: nothing was extracted")
	}
	return tree, nil
}

type treeFile struct {
	data []byte
	mode int64
}

// runHelper runs cmd as root in a fresh container of the runtime image with
// files copied to /work first, waits for it, and returns its exit code, the
// tail of its output and the regular files it left in /work (by path below
// /work). The container is removed in every case.
func (lb *layerBuilder) runHelper(ctx context.Context, network string, cmd []string, files map[string][]byte) (int, string, map[string]treeFile, error) {
	c, err := lb.cli.ContainerCreate(ctx, &container.Config{
		Image: lb.image, Cmd: cmd, User: "0:0", WorkingDir: "/",
		Labels: map[string]string{labelBuild: "xray-layer"},
	}, &container.HostConfig{NetworkMode: container.NetworkMode(network)}, nil, nil, "")
	if err != nil {
		return 0, "", nil, fmt.Errorf("create layer build container: %w", err)
	}
	defer func() {
		cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		lb.cli.ContainerRemove(cleanupCtx, c.ID, container.RemoveOptions{Force: true})
	}()

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	made := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		// Parents first, each once: work/, then work/debs/.
		for _, dir := range []string{"work", path.Join("work", path.Dir(name))} {
			if !made[dir] {
				made[dir] = true
				tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: zipEpoch})
			}
		}
		if err := writeTarFile(tw, "work/"+name, 0o644, files[name]); err != nil {
			return 0, "", nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, "", nil, err
	}
	if err := lb.cli.CopyToContainer(ctx, c.ID, "/", &buf, container.CopyToContainerOptions{}); err != nil {
		return 0, "", nil, fmt.Errorf("copy into layer build container: %w", err)
	}
	if err := lb.cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return 0, "", nil, fmt.Errorf("start layer build container: %w", err)
	}
	waitC, errC := lb.cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	var code int
	select {
	case w := <-waitC:
		code = int(w.StatusCode)
	case err := <-errC:
		return 0, "", nil, fmt.Errorf("wait for layer build container: %w", err)
	}

	var logs bytes.Buffer
	if rc, err := lb.cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true}); err == nil {
		stdcopy.StdCopy(&logs, &logs, rc)
		rc.Close()
	}
	if code != 0 {
		return code, lastLines(logs.String(), 6), nil, nil
	}

	rc, _, err := lb.cli.CopyFromContainer(ctx, c.ID, "/work")
	if err != nil {
		return 0, "", nil, fmt.Errorf("copy out of layer build container: %w", err)
	}
	defer rc.Close()
	out := map[string]treeFile{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, "", nil, fmt.Errorf("read layer build output: %w", err)
		}
		name, ok := strings.CutPrefix(path.Clean(hdr.Name), "work/")
		if !ok {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return 0, "", nil, fmt.Errorf("read layer build output %s: %w", name, err)
			}
			out[name] = treeFile{data: data, mode: hdr.Mode}
		case tar.TypeDir:
		default:
			// The packages ship none today; a link would need a decision
			// (follow it or not) that the zip layout has not made.
			if strings.HasPrefix(name, "root/usr/lib/python3/dist-packages/") {
				return 0, "", nil, fmt.Errorf("unpack X-Ray layer packages: %s is not a regular file (type %q)", strings.TrimPrefix(name, "root/"), hdr.Typeflag)
			}
		}
	}
	return 0, lastLines(logs.String(), 6), out, nil
}

// distPackages is where Debian's python3-* packages put their modules.
const distPackages = "usr/lib/python3/dist-packages/"

// layerZip lays the unpacked tree out as a layer: the modules under
// python/, each package's copyright file under python/LAMBDALAB-LICENSES/,
// the manifest as python/LAMBDALAB-LAYER.txt. Entries are sorted, every
// directory is listed, times are zipEpoch, files are 0644 (0755 when
// executable) and directories 0755, so equal input gives equal bytes.
func layerZip(tree map[string]treeFile, manifest []byte) ([]byte, error) {
	type entry struct {
		data []byte
		mode os.FileMode
	}
	entries := map[string]entry{XRayLayerManifest: {manifest, 0o644}}
	for name, f := range tree {
		var zname string
		if rest, ok := strings.CutPrefix(name, distPackages); ok {
			zname = "python/" + rest
		} else if pkg, ok := strings.CutSuffix(strings.TrimPrefix(name, "usr/share/doc/"), "/copyright"); ok && strings.HasPrefix(name, "usr/share/doc/") && !strings.Contains(pkg, "/") {
			zname = xrayLicenseDir + pkg + ".copyright"
		} else {
			continue // documentation, changelogs: not needed at run time
		}
		if !fsValidZipName(zname) {
			return nil, fmt.Errorf("pack X-Ray layer: unsafe name %q", name)
		}
		mode := os.FileMode(0o644)
		if f.mode&0o111 != 0 {
			mode = 0o755
		}
		entries[zname] = entry{f.data, mode}
	}
	// Every parent directory gets its own entry, so unzip tools create it
	// 0755 rather than with their own default.
	dirs := map[string]bool{}
	for name := range entries {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d+"/"] = true
		}
	}
	names := slices.Collect(maps.Keys(entries))
	for d := range dirs {
		names = append(names, d)
	}
	slices.Sort(names)

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range names {
		hdr := &zip.FileHeader{Name: name, Modified: zipEpoch}
		if dirs[name] {
			hdr.SetMode(os.ModeDir | 0o755)
			if _, err := zw.CreateHeader(hdr); err != nil {
				return nil, fmt.Errorf("pack X-Ray layer %s: %w", name, err)
			}
			continue
		}
		e := entries[name]
		hdr.Method = zip.Deflate
		hdr.SetMode(e.mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, fmt.Errorf("pack X-Ray layer %s: %w", name, err)
		}
		if _, err := w.Write(e.data); err != nil {
			return nil, fmt.Errorf("pack X-Ray layer %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("pack X-Ray layer: %w", err)
	}
	return buf.Bytes(), nil
}

// fsValidZipName reports whether name is relative, slash-separated and
// stays inside the layer.
func fsValidZipName(name string) bool {
	return name != "" && !strings.HasPrefix(name, "/") && !strings.Contains(name, "\\") &&
		path.Clean(name) == name && !slices.Contains(strings.Split(name, "/"), "..")
}

// removeStale deletes zips of other pins and .debs no pin names.
func (lb *layerBuilder) removeStale(pins []pin, keepZip string) {
	keep := map[string]bool{}
	for _, p := range pins {
		keep[p.debFile()] = true
	}
	if ents, err := os.ReadDir(lb.debDir()); err == nil {
		for _, e := range ents {
			if !keep[e.Name()] {
				os.Remove(filepath.Join(lb.debDir(), e.Name()))
			}
		}
	}
	if ents, err := os.ReadDir(lb.dir); err == nil {
		for _, e := range ents {
			n := e.Name()
			if n != keepZip && strings.HasPrefix(n, xrayLayerPrefix) && strings.HasSuffix(n, ".zip") {
				os.Remove(filepath.Join(lb.dir, n))
				lb.say("removed stale %s", n)
			}
		}
	}
}

// writeFileAtomic writes data to p through a temporary file in the same
// folder, so a reader never sees half a file.
func writeFileAtomic(p string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// oneLine joins a multi-line tail into one line for an error message.
func oneLine(s string) string {
	s = strings.TrimSpace(strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " "))
	if s == "" {
		return "no output"
	}
	return s
}
