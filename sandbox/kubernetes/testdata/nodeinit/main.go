// Command nodeinit stands in for lambdalab-init in the node tests: PodFor
// runs /var/runtime/lambdalab-init, and the test mounts this there. It reads
// what to do from /var/task/mode.json (the Pod's code folder, which the test
// writes on the node):
//
//	{"mode": "facts", "dial": ["1.1.1.1:53"], "exit_code": 3}
//	    print one line "FACTS {json}" with what the process may do, then
//	    wait until /var/task/exit exists and exit with exit_code
//	{"mode": "sleep"}   sleep until SIGTERM
//	{"mode": "bomb"}    allocate memory until the kernel kills it
//
// It is built static (CGO_ENABLED=0): the runtime image's libc is not its.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type config struct {
	Mode     string   `json:"mode"`
	Dial     []string `json:"dial"`
	ExitCode int      `json:"exit_code"`
}

// Facts is what the test asserts the isolation profile from.
type Facts struct {
	UID        int               `json:"uid"`
	GID        int               `json:"gid"`
	Status     map[string]string `json:"status"`     // CapEff, NoNewPrivs, Seccomp from /proc/self/status
	WriteRoot  string            `json:"write_root"` // the error writing /, "" if it worked
	WriteTmp   string            `json:"write_tmp"`  // the same in /tmp, the one writable mount
	Interfaces []Interface       `json:"interfaces"` // net.Interfaces
	Dial       map[string]string `json:"dial"`       // address: error, "" if it connected
	Rlimits    map[string][2]int `json:"rlimits"`    // nofile, core: soft, hard (-1 for unlimited)
}

type Interface struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

func main() {
	var cfg config
	data, err := os.ReadFile("/var/task/mode.json")
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodeinit:", err)
		os.Exit(2)
	}
	switch cfg.Mode {
	case "facts":
		b, _ := json.Marshal(facts(cfg))
		fmt.Printf("FACTS %s\n", b)
		for {
			if _, err := os.Stat("/var/task/exit"); err == nil {
				os.Exit(cfg.ExitCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
	case "sleep":
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
	case "bomb":
		var keep [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = byte(i) // touched, so that it is charged to the cgroup
			}
			keep = append(keep, b)
		}
	default:
		fmt.Fprintf(os.Stderr, "nodeinit: unknown mode %q\n", cfg.Mode)
		os.Exit(2)
	}
}

func facts(cfg config) Facts {
	f := Facts{UID: os.Getuid(), GID: os.Getgid(), Status: map[string]string{}, Dial: map[string]string{}, Rlimits: map[string][2]int{}}
	if st, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(st)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok && (k == "CapEff" || k == "CapPrm" || k == "CapBnd" || k == "NoNewPrivs" || k == "Seccomp") {
				f.Status[k] = strings.TrimSpace(v)
			}
		}
		st.Close()
	}
	f.WriteRoot = errText(os.WriteFile("/nodeinit-probe", []byte("x"), 0o644))
	f.WriteTmp = errText(os.WriteFile("/tmp/nodeinit-probe", []byte("x"), 0o644))
	ifaces, err := net.Interfaces()
	if err != nil {
		f.Interfaces = []Interface{{Name: "error: " + err.Error()}}
	}
	for _, ifc := range ifaces {
		i := Interface{Name: ifc.Name}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			i.Addrs = append(i.Addrs, a.String())
		}
		f.Interfaces = append(f.Interfaces, i)
	}
	for _, addr := range cfg.Dial {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err == nil {
			c.Close()
		}
		f.Dial[addr] = errText(err)
	}
	for name, res := range map[string]int{"nofile": syscall.RLIMIT_NOFILE, "core": syscall.RLIMIT_CORE} {
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(res, &rl); err == nil {
			f.Rlimits[name] = [2]int{limit(rl.Cur), limit(rl.Max)}
		}
	}
	return f
}

func limit(v uint64) int {
	if v == ^uint64(0) { // RLIM_INFINITY
		return -1
	}
	return int(v)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
