package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"lambdalab/sandbox/cgroupv1"
)

// uidPattern is a Kubernetes object UID: a UUID, as the API server makes
// them. It becomes part of a path, so nothing else may pass.
var uidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// podCgroupPaths are where the kubelet puts a Pod's cgroup v1 folder under
// one controller, for each QoS class: with the cgroupfs driver
// kubepods/[burstable/|besteffort/]pod<uid>, with the systemd driver
// kubepods.slice/[kubepods-<qos>.slice/]kubepods-[<qos>-]pod<uid with _ for
// ->.slice (kubelet's cm.CgroupName and its systemd escaping). lambdalab's
// Pods are Burstable (CPU requested at half its limit); the others are
// looked at too, so a Pod made otherwise is still found.
func podCgroupPaths(uid string) []string {
	u := strings.ReplaceAll(uid, "-", "_")
	return []string{
		filepath.Join("kubepods", "pod"+uid),
		filepath.Join("kubepods", "burstable", "pod"+uid),
		filepath.Join("kubepods", "besteffort", "pod"+uid),
		filepath.Join("kubepods.slice", "kubepods-pod"+u+".slice"),
		filepath.Join("kubepods.slice", "kubepods-burstable.slice", "kubepods-burstable-pod"+u+".slice"),
		filepath.Join("kubepods.slice", "kubepods-besteffort.slice", "kubepods-besteffort-pod"+u+".slice"),
	}
}

// podCgroups finds the Pod's folders under the memory and cpu controllers
// of the cgroup v1 hierarchy at root.
func podCgroups(root, podUID string) (memDir, cpuDir string, err error) {
	if !uidPattern.MatchString(podUID) {
		return "", "", coded(codeBad, "pod uid %q is not a Kubernetes UID", podUID)
	}
	find := func(controller string) (string, error) {
		for _, p := range podCgroupPaths(podUID) {
			dir := filepath.Join(root, controller, p)
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				return dir, nil
			}
		}
		return "", fmt.Errorf("no cgroup v1 folder of Pod %s under %s (looked for kubepods/…/pod<uid> and kubepods.slice/…/kubepods-…pod<uid>.slice): "+
			"is the Pod running on this node, and does the kubelet use cgroup v1?", podUID, filepath.Join(root, controller))
	}
	if memDir, err = find("memory"); err != nil {
		return "", "", err
	}
	if cpuDir, err = find("cpu"); err != nil {
		return "", "", err
	}
	return memDir, cpuDir, nil
}

// killPod kills every process of the Pod whose cgroup folder (under any
// controller) is dir. The processes are in the containers' folders below
// it, and a cgroup v1 folder's cgroup.procs lists only its own members, so
// each folder is emptied in turn. One pass is enough: a process cannot
// move itself to another cgroup (the folders are not writable inside a
// Pod), so a folder once empty stays so, its children's forks staying in
// their own folders.
func killPod(ctx context.Context, dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a container's folder went as we walked
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		if err := cgroupv1.KillAll(ctx, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// setPodCPUQuota limits a Pod's cpu folder dir, and every limited folder
// below it (its containers'), to nanoCPUs billionths of a CPU. Under cgroup
// v1 the kernel refuses (EINVAL) any quota that would leave a folder with
// more CPU than its parent. The kubelet gives the container the Pod's
// quota, so the Pod's folder alone can never be cut: a cut is written
// deepest first, a raise from the Pod's folder down. Folders without a
// quota (-1: the Pod's sandbox container) are bounded by the Pod's anyway
// and stay as the kubelet made them.
func setPodCPUQuota(dir string, nanoCPUs int64) error {
	cur, err := readQuota(dir)
	if err != nil {
		return err
	}
	var limited []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a container's folder went as we walked
			}
			return err
		}
		if !d.IsDir() || p == dir {
			return nil
		}
		if q, err := readQuota(p); err == nil && q != -1 {
			limited = append(limited, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.SliceStable(limited, func(i, j int) bool { return strings.Count(limited[i], "/") < strings.Count(limited[j], "/") })
	order := append([]string{dir}, limited...) // a raise: the Pod first
	if cur == -1 || cgroupv1.CFSQuota(nanoCPUs) < cur {
		slices.Reverse(order) // a cut: the deepest first
	}
	for _, d := range order {
		if err := cgroupv1.SetCPUQuota(d, nanoCPUs); err != nil && (d == dir || !errors.Is(err, fs.ErrNotExist)) {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}

// setPodMemoryLimit limits a Pod's memory folder dir, and every limited
// folder below it (its containers'), to bytes, memory+swap included. The
// Pod's folder alone would hold the Pod to it (cgroup v1 charges a child's
// pages to its parents), but a function reads its limit from its own
// container's folder, which the kubelet gave the unbound size: it would
// see 1,024 MB. Folders without a limit (the Pod's sandbox container) are
// bounded by the Pod's and stay as the kubelet made them.
func setPodMemoryLimit(dir string, bytes int64) error {
	var limited []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a container's folder went as we walked
			}
			return err
		}
		if d.IsDir() && p != dir {
			if l, err := readInt64(filepath.Join(p, "memory.limit_in_bytes")); err == nil && l < unlimitedMemory {
				limited = append(limited, p)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range append([]string{dir}, limited...) {
		if err := cgroupv1.SetMemoryLimit(d, bytes); err != nil && (d == dir || !errors.Is(err, fs.ErrNotExist)) {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	return nil
}

// unlimitedMemory is the least memory.limit_in_bytes that cgroup v1 shows
// for no limit (PAGE_COUNTER_MAX pages, rounded to the page size: just
// under 2^63 on 4 KiB pages); anything from 2^62 up is taken as none.
const unlimitedMemory = 1 << 62

func readInt64(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// readQuota reads a cpu folder's cpu.cfs_quota_us (-1: no quota).
func readQuota(dir string) (int64, error) {
	return readInt64(filepath.Join(dir, "cpu.cfs_quota_us"))
}

// podOOMKilled reports whether the OOM killer has killed a process in the
// Pod whose memory folder is dir. Under cgroup v1 the oom_kill counter is
// kept by the folder whose limit was hit and not added up in its parents
// (measured on this kernel, 6.18): a container's folder has the Pod's
// limit too, so a kill there shows in the container's counter alone, and
// every folder of the Pod is read.
func podOOMKilled(dir string) (bool, error) {
	killed := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil // a container's folder went as we walked
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		oom, err := cgroupv1.OOMKilled(p)
		if err != nil && (p == dir || !errors.Is(err, fs.ErrNotExist)) {
			return err
		}
		if oom {
			killed = true
			return fs.SkipAll
		}
		return nil
	})
	return killed, err
}
