# stepline's front door: `make help` lists every target.
SHELL := /usr/bin/env bash
GO    ?= go
BIN   := bin
FUZZTIME ?= 60s
NODE_BIN := $(CURDIR)/scripts/node/node_modules/.bin
# The CDK CLI comes from the lockfile (make node-tools); no telemetry, and Node 22's end-of-life
# notice is not news here.
CDK_ENV  := CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
CDK      := $(CDK_ENV) $(NODE_BIN)/cdk
CDK_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build-cli ## run the example pipeline end to end on this machine (no AWS)
	./scripts/run-example.sh

.PHONY: test
test: node-tools ## all tests: unit, end-to-end through `stepline run`, the example service
	./scripts/check-tools.sh
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	cd examples/hello && $(GO) test -count=1 ./...
	cd examples/ecs-service && $(GO) test -count=1 ./...
	$(MAKE) --no-print-directory test-infra

.PHONY: test-infra
test-infra: node-tools ## the deploy checks: cfn-lint + SAM transform of template.yml and cfn-lint of the CDK template, CDK assertions, cdk-nag, parity
	mkdir -p dist/cdk
	cd infra && $(CDK_ENV) $(GO) run ./cmd/synth -placeholders > ../dist/cdk/stepline.template.json
	./scripts/check-template.sh --cdk dist/cdk/stepline.template.json dist/sam/template.json
	cd infra && $(CDK_ENV) $(GO) vet ./... && $(CDK_ENV) $(GO) test -count=1 ./...

.PHONY: chaos
chaos: ## the trigger's exactly-once test at full size: 10,000 deliveries with faults on dynamofake, figures printed (make test runs 2,000, and 1,000 on moto)
	$(GO) test -count=1 -timeout 10m -v -run '^TestChaosEveryEvent' ./pkg/triggerstep -chaos.full

.PHONY: chaos-moto
chaos-moto: ## the same against moto with 1,000 deliveries, figures printed (make test runs it too)
	$(GO) test -count=1 -timeout 10m -v -run '^TestChaosOnMoto' ./pkg/triggerstep

.PHONY: node-tools
node-tools: scripts/node/node_modules/.package-lock.json ## install the npm tools the tests use, from the lockfile

scripts/node/node_modules/.package-lock.json: scripts/node/package-lock.json
	cd scripts/node && npm ci --no-audit --no-fund --loglevel=error

.PHONY: build-cli
build-cli: ## build the stepline command into bin/
	$(GO) build -o $(BIN)/stepline ./cmd/stepline

.PHONY: build-functions
build-functions: ## build every Lambda function as a linux/arm64 bootstrap zip in dist/functions
	./scripts/build-functions.sh dist/functions

.PHONY: build
build: build-cli build-functions ## build everything that ships: the CLI and the Lambda zips

.PHONY: synth
synth: node-tools build-functions ## synthesize the CDK stack into infra/cdk.out, offline (no AWS account needed)
	cd infra && $(CDK) synth --quiet $(CDK_ARGS)
	@echo "template: infra/cdk.out/$$(cd infra/cdk.out && ls *.template.json | head -1)"

.PHONY: deploy
deploy: node-tools build-functions ## deploy stepline with CDK (AWS credentials; `cdk bootstrap` once per account/region)
	cd infra && $(CDK) deploy $(CDK_ARGS)

# The stack name sam deploy --guided offers: the CDK app's default, the one the README passes to
# `stepline repo add --stack` (sam's own default is sam-app).
SAM_STACK ?= stepline

.PHONY: sam-deploy
sam-deploy: build-functions ## deploy stepline with SAM: sam deploy --guided, stack SAM_STACK (default stepline; needs the sam CLI and AWS credentials)
	@command -v sam >/dev/null 2>&1 || { echo "sam-deploy: the AWS SAM CLI is not installed (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html)"; exit 1; }
	sam deploy --guided --stack-name $(SAM_STACK) --template-file template.yml --resolve-s3 --capabilities CAPABILITY_IAM

.PHONY: release
release: ## tag a release of both Go modules on one commit: make release VERSION=vX.Y.Z (tags vX.Y.Z and infra/vX.Y.Z; no push)
	@test -n "$(VERSION)" || { echo "release: give VERSION=vX.Y.Z"; exit 2; }
	./scripts/release.sh $(VERSION)

.PHONY: bench
bench: build-cli ## run the benchmarks recorded in BENCHMARKS.md
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./pkg/engine ./pkg/store
	$(GO) test -run '^$$' -bench RunStartByHistory -benchmem -count 1 ./pkg/local
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -benchtime 20x ./pkg/buildspec
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./pkg/webhook ./pkg/trigger
	$(GO) test -run '^$$' -bench BenchmarkServeRPS -count 1 -benchtime 500x ./pkg/cli
	$(GO) test -run '^$$' -bench ColdStart -count 1 -benchtime 50x ./functions/webhook
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./pkg/store/dynamo
	$(GO) test -run '^$$' -bench Stream1GiB -benchtime 1x ./pkg/sourcearchive
	$(GO) test -run '^$$' -bench FirstLoad -benchmem -count 1 ./pkg/dashboard

.PHONY: screenshots
screenshots: ## the dashboard's screenshots in docs/img (success, failure, waiting for approval), taken by its browser tests in headless Chromium
	./scripts/check-tools.sh
	$(GO) test -count=1 -run '^TestDashboard(ShowsHello|Approval|Retries)' ./pkg/cli -dashboard.screenshots=$(CURDIR)/docs/img

.PHONY: fuzz
fuzz: node-tools ## run every fuzz target for FUZZTIME each (default 60s; the GitHub targets are seeded from the npm examples)
	./scripts/fuzz.sh $(FUZZTIME)

.PHONY: lint
lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "run gofmt -w"; exit 1; }
	$(GO) vet ./...
	cd examples/hello && $(GO) vet ./...
	cd examples/ecs-service && $(GO) vet ./...

.PHONY: clean
clean: ## remove build outputs
	rm -rf $(BIN) dist
