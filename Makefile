# proglog: every target installs what it needs first, so a fresh clone works with one command.
SHELL := /bin/bash
NODE_OPTIONS_ESM := --experimental-vm-modules
JEST := node_modules/.bin/jest
TSC := node_modules/.bin/tsc
SEEDS ?= 1000
DURATION ?= 120
# A nemesis seed runs DURATION seconds against real agent processes: campaigns are counted in a few seeds.
NEMESIS_SEEDS ?= 3

.PHONY: all install build test typecheck proto gencert run bench bench-log bench-raft bench-server bench-loadbalance bench-discovery bench-distributed bench-cluster sim nemesis clean

all: build

# Reinstall only when the lockfile changed since the last install. Dependencies' install scripts run only as
# package.json's allowScripts says (npm 12 skips any it does not list): esbuild's checks its platform binary;
# protobufjs's only prints advice about version ranges.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed

build: install
	$(TSC) -p tsconfig.json

typecheck: install
	$(TSC) -p tsconfig.json --noEmit

# JEST_JSON=path makes jest also write its machine-readable report there (used by .ci/run).
test: typecheck
	NODE_OPTIONS=$(NODE_OPTIONS_ESM) $(JEST) $(if $(JEST_JSON),--json --outputFile=$(JEST_JSON)) $(JEST_ARGS)

# Benchmarks run compiled JavaScript (tsc output), never under a test runner.
bench: bench-log bench-raft bench-server bench-loadbalance bench-discovery bench-distributed bench-cluster

bench-log: build
	node dist/bench/log.bench.js

bench-raft: build
	node dist/bench/raft.bench.js

bench-server: build
	node dist/bench/server.bench.js

bench-loadbalance: build
	node dist/bench/loadbalance.bench.js

bench-discovery: build
	node dist/bench/discovery.bench.js

bench-distributed: build
	node dist/bench/distributed.bench.js

# A local three-node cluster on 127.0.0.1 (dev certs made if certs/ has none); Ctrl-C stops it.
run: build
	node dist/scripts/run-cluster.js

# A local three-node cluster of agent processes under load, beside a no-op gRPC server over the same mTLS.
# SHORT=1 for a quick look; VOLUME_MB sets how much is written for the memory figure (default 1 GB).
bench-cluster: build
	node dist/bench/cluster.bench.js $(if $(SHORT),--short) $(if $(VOLUME_MB),--volume-mb $(VOLUME_MB))

# Jepsen-style fault campaign: make nemesis NEMESIS_SEEDS=1-20 DURATION=120 [NODES=5] [FAULTS=kill,pause,...]
nemesis: build
	node dist/test/nemesis/campaign.js --seeds $(NEMESIS_SEEDS) --duration $(DURATION) $(if $(NODES),--nodes $(NODES)) $(if $(FAULTS),--faults $(FAULTS))

# Long Raft simulation campaigns: make sim SEEDS=100000
sim: build
	node dist/internal/raft/sim/campaign.js --seeds $(SEEDS)

# Regenerates api/v1 from log.proto with a pinned buf (fetched by npx; the generated code is committed).
proto: install
	npx --yes @bufbuild/buf@1.75.0 generate

gencert: build
	node dist/cmd/proglog/main.js cert $(if $(FORCE),--force)

clean:
	rm -rf dist
