package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"lambdalab/sandbox/node"
)

const nodeUsage = `Usage:
  lambdalab node run  --server HOST:PORT --certs DIR [--dir /var/lib/lambdalab-node]
        run the node agent on a sandbox node (as root): it prepares each
        instance's folders and serves its sockets, linked to the server
  lambdalab node cert --name NODE --out DIR [--data DIR]
        issue a node's certificate from the server's node CA (DATA/nodes):
        writes ca.pem, node.pem and node-key.pem into DIR, for --certs
`

// runNode is `lambdalab node`: the agent, and the certificates it links with.
func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, nodeUsage)
		return errors.New("node: want run or cert")
	}
	switch args[0] {
	case "run":
		return runNodeAgent(ctx, args[1:], stderr)
	case "cert":
		return runNodeCert(args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, nodeUsage)
		return fmt.Errorf("node: unknown command %q", args[0])
	}
}

func runNodeAgent(ctx context.Context, args []string, stderr io.Writer) error {
	fl := flag.NewFlagSet("node run", flag.ContinueOnError)
	fl.SetOutput(stderr)
	server := fl.String("server", "", "the lambdalab server's node listener, HOST:PORT (its LAMBDALAB_NODE_LISTEN)")
	certs := fl.String("certs", "", "folder with ca.pem, node.pem and node-key.pem from `lambdalab node cert`")
	dir := fl.String("dir", "/var/lib/lambdalab-node", "node folder for instances; hostPath volumes point into it")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *server == "" || *certs == "" {
		return errors.New("node run: --server and --certs are required")
	}
	var pems [3][]byte
	for i, name := range []string{"ca.pem", "node.pem", "node-key.pem"} {
		b, err := os.ReadFile(filepath.Join(*certs, name))
		if err != nil {
			return fmt.Errorf("node run: %w (make the files with `lambdalab node cert`)", err)
		}
		pems[i] = b
	}
	tlsConf, err := node.AgentTLS(pems[0], pems[1], pems[2])
	if err != nil {
		return fmt.Errorf("node run: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	// The init every instance Pod runs as PID 1, mounted from the node.
	initBin, err := initBinary(filepath.Join(*dir, "init"), logger)
	if err != nil {
		return fmt.Errorf("node run: %w", err)
	}
	return node.RunAgent(ctx, node.AgentConfig{
		Server:     *server,
		TLS:        tlsConf,
		Dir:        *dir,
		InitBinary: initBin,
		Logger:     logger,
	})
}

func runNodeCert(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("node cert", flag.ContinueOnError)
	fl.SetOutput(stderr)
	name := fl.String("name", "", "the node's name, as Kubernetes knows it (kubectl get nodes)")
	out := fl.String("out", "", "folder to write ca.pem, node.pem and node-key.pem into")
	dataDir := fl.String("data", "./lambdalab-data", "the server's data folder (its node CA is DATA/nodes)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *name == "" || *out == "" {
		return errors.New("node cert: --name and --out are required")
	}
	ca, err := node.LoadOrCreateCA(filepath.Join(*dataDir, "nodes"))
	if err != nil {
		return fmt.Errorf("node cert: %w", err)
	}
	cert, key, err := ca.IssueNode(*name)
	if err != nil {
		return fmt.Errorf("node cert: %w", err)
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fmt.Errorf("node cert: %w", err)
	}
	for file, data := range map[string][]byte{"ca.pem": ca.CertPEM(), "node.pem": cert, "node-key.pem": key} {
		if err := os.WriteFile(filepath.Join(*out, file), data, 0o600); err != nil {
			return fmt.Errorf("node cert: %w", err)
		}
	}
	fmt.Fprintf(stdout, "wrote %s/{ca.pem,node.pem,node-key.pem} for node %s\n", *out, *name)
	return nil
}
