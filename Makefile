# gong-bridge developer entry points. Every target bootstraps Node 24 into .tools/ when the system
# Node is older than 22. `demo`, `doctor` and `test` first run scripts/prereqs.sh, which checks every
# tool they need and installs what is missing (apt-get as root), or says exactly what to run.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_BIN := $(shell scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(PATH)

# Local stack knobs (see scripts/stack/stack.sh): KAFKA_LINE=4|3, KAFKA_PORT, REGISTRY_PORT, REDIS_PORT.
KAFKA_LINE ?= 4
export KAFKA_LINE

.PHONY: help install build lint typecheck test test-unit test-integration test-e2e test-smoke \
        stack-up stack-down stack-status demo doctor docs helm-check helm-sync bench audit chaos soak clean \
        prereqs-demo prereqs-doctor prereqs-test

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed ## Install dependencies (npm ci)

# scripts/prereqs.sh checks every tool a target needs and installs what is missing when it can.
prereqs-demo prereqs-doctor prereqs-test:
	@bash scripts/prereqs.sh $(@:prereqs-%=%)

build: install ## Compile TypeScript into dist/
	npm run build

lint: install ## ESLint and Prettier
	npm run lint

typecheck: install ## tsc --noEmit over src, test and bench
	npm run typecheck

test: prereqs-test install ## Everything: lint, typecheck, every test tier and the chart checks, on a local stack it starts and stops
	bash scripts/test.sh

test-unit: install ## Unit tier only (no services)
	npx vitest run --project unit

test-integration: install ## Integration tier (uses or starts the local stack)
	npx vitest run --project integration

test-e2e: install ## End-to-end tier
	npx vitest run --project e2e

test-smoke: install ## Stack smoke test only, e.g. make test-smoke KAFKA_LINE=3
	npx vitest run --project integration test/kafka/smoke.int.test.ts

stack-up: install ## Start Kafka (KRaft), Apicurio Registry and Redis; idempotent
	bash scripts/stack/stack.sh up

stack-down: ## Stop what stack-up started (by pid)
	bash scripts/stack/stack.sh down

stack-status: ## Show the local stack
	@bash scripts/stack/stack.sh status

demo: prereqs-demo install ## Run the bridge on local defaults: stack, Gong sandbox, sample events
	bash scripts/demo.sh

doctor: prereqs-doctor install ## gong-bridge doctor --gong-auth on what make demo uses: stack, Gong sandbox, topic (DOCTOR_FLAGS=--json)
	bash scripts/doctor-local.sh

docs: install ## Regenerate docs/reference/ and the README's DLQ header table from the code
	npm run docs:gen

helm-check: ## helm lint --strict, renders, invalid values (builds helm with Go if missing)
	bash scripts/helm.sh check

helm-sync: ## Refresh the chart's copies of deploy/ files and its values schema
	bash scripts/helm.sh sync

bench: install ## Run every benchmark (prints figures)
	npm run bench:transform
	npm run bench:limiter -- --seconds 10
	npm run bench:slow-gong -- --seconds 20
	npm run bench:engine

chaos: install ## Fault-injection scenarios, long form (CI runs the short form in test-integration); books in .stack/reports/chaos.jsonl
	CHAOS_ALL=1 CHAOS_EVENTS=600 CHAOS_STORM_MS=60000 npx vitest run --project integration test/chaos

soak: install ## 30 minutes at 3/s with mixed faults; prints RSS, loop lag and calls per event
	node bench/soak.ts

audit: install ## npm audit of production dependencies: exit 1 on high/critical, 3 when the audit endpoint is unreachable
	bash scripts/audit.sh

clean: stack-down ## Remove build output and the stack's state (keeps downloads in .tools and ~/.m2)
	rm -rf dist .stack coverage
