# lambdalab — `make run` and `make test` are the whole set-up; `make help` lists the rest.
GO      ?= go
BIN     := bin/lambdalab
export GOFLAGS ?= -buildvcs=false

.PHONY: help deps generate editor build run test test-gvisor test-k8s-node bench image lint clean

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST) | awk '{ i = index($$0, ": "); printf "  %-13s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2) }'

## deps: ensure a running Docker engine, the runtime image and (for the tests) Debian's chromium, AWS CLI v2, PostgreSQL's binaries and a Kubernetes control plane (kube-apiserver and etcd built once from the module proxy, scripts/k8s-bins.sh); installs Debian packages when root
deps:
	@scripts/deps.sh docker
	@scripts/deps.sh browser
	@scripts/deps.sh awscli
	@scripts/deps.sh postgres
	@scripts/k8s-bins.sh >/dev/null
	@$(GO) run . image

## generate: regenerate templ components (the generated files are committed)
generate:
	$(GO) tool templ generate

## editor: rebuild static/editor.js (CodeMirror) and the vendored htmx files from static/editor's locked npm packages; needs npm and its registry, the results are committed
EDITOR := static/editor
editor:
	cd $(EDITOR) && npm ci --ignore-scripts --no-audit --no-fund
	mkdir -p $(EDITOR)/build
	$(GO) tool esbuild $(EDITOR)/src/editor.js --bundle --format=iife --minify --target=es2020 --legal-comments=eof --log-level=warning --metafile=$(EDITOR)/build/meta.json --outfile=$(EDITOR)/build/editor.js
	cd $(EDITOR) && node licenses.mjs build/meta.json > build/licenses.js
	cat $(EDITOR)/build/licenses.js $(EDITOR)/build/editor.js > static/editor.js
	cp $(EDITOR)/node_modules/htmx.org/dist/htmx.min.js static/htmx.min.js
	cp $(EDITOR)/node_modules/htmx-ext-sse/dist/sse.min.js static/htmx-sse.js

## build: one static binary in bin/, with the small sandbox init embedded
build:
	CGO_ENABLED=0 $(GO) build -o sandbox/initbin/lambdalab-init ./sandbox/init
	CGO_ENABLED=0 $(GO) build -tags embedinit -o $(BIN) .

## run: start lambdalab on 127.0.0.1:8080 with embedded defaults
run: deps build
	./$(BIN) serve

## test: every test, race detector on, Docker and Chromium required; then the store and the queues built on it again on PostgreSQL (a private server the tests start)
PG_PKGS := ./store/ ./grader/queue/ ./cloud/lambda/
test: deps lint
	LAMBDALAB_REQUIRE_DOCKER=1 LAMBDALAB_REQUIRE_BROWSER=1 LAMBDALAB_REQUIRE_POSTGRES=1 LAMBDALAB_REQUIRE_K8S=1 $(GO) test -race -count=1 -timeout 40m ./...
	LAMBDALAB_REQUIRE_DOCKER=1 LAMBDALAB_REQUIRE_POSTGRES=1 LAMBDALAB_TEST_DATABASE=postgres $(GO) test -race -count=1 -timeout 20m $(PG_PKGS)

## test-gvisor: the tests of every package that starts sandboxes, with the instances under gVisor (runsc; scripts/deps.sh gvisor registers it); the root package's tests start serve with their own settings and stay on runc
SANDBOX_PKGS := ./sandbox/... ./cloud/... ./grader/... ./web/...
test-gvisor:
	@scripts/deps.sh gvisor
	@$(GO) run . image
	LAMBDALAB_REQUIRE_DOCKER=1 LAMBDALAB_TEST_OCI_RUNTIME=runsc $(GO) test -count=1 -timeout 40m $(SANDBOX_PKGS)

## test-k8s-node: the opt-in node tests, Pods on a real kubelet and containerd on this machine (root; kubelet and containerd built once by scripts/k8s-bins.sh kubelet, Debian's CNI plugins): the node tests, the whole sandbox suite on the Kubernetes backend, and serve with a node agent driven by the AWS CLI; not part of make test
NODE_PKGS  := ./sandbox/kubernetes/...
NODE_TESTS := Node
test-k8s-node:
	@scripts/deps.sh docker
	@scripts/deps.sh cni
	@scripts/k8s-bins.sh kubelet >/dev/null
	LAMBDALAB_K8S_NODE=1 LAMBDALAB_REQUIRE_K8S=1 $(GO) test -count=1 -timeout 20m -run '$(NODE_TESTS)' $(NODE_PKGS)
	LAMBDALAB_K8S_NODE=1 LAMBDALAB_REQUIRE_K8S=1 LAMBDALAB_REQUIRE_DOCKER=1 LAMBDALAB_TEST_BACKEND=kubernetes $(GO) test -count=1 -timeout 30m ./sandbox/
	LAMBDALAB_K8S_NODE=1 LAMBDALAB_REQUIRE_K8S=1 LAMBDALAB_REQUIRE_DOCKER=1 $(GO) test -count=1 -timeout 20m -run '^TestServeOnKubernetes$$' .

## bench: the benchmarks (numbers for the closing notes), BenchmarkFairness's 30-account load included (60 s; FAIRNESS_SECONDS=300 runs it longer)
bench: deps
	LAMBDALAB_REQUIRE_DOCKER=1 LAMBDALAB_FAIRNESS_SECONDS=$(FAIRNESS_SECONDS) $(GO) test -run '^$$' -bench . -benchtime 2s -timeout 40m ./...

## image: build or verify the Lambda runtime image
image:
	$(GO) run . image

## lint: gofmt, go vet, go.mod tidiness and templ staleness
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod or go.sum is not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }
	@scripts/templ-fresh.sh

## clean: remove build output
clean:
	rm -rf bin
