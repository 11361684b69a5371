# 安心 — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
export VENV
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export RASA_TELEMETRY_ENABLED := false
export TF_INTER_OP_PARALLELISM_THREADS ?= 1
export TF_INTRA_OP_PARALLELISM_THREADS ?= 1

.PHONY: help setup setup-browser setup-nginx train run run-scaled faults bench-load shell serve-actions test lint validate unit e2e smoke browser security eval safety-eval probe bench bench-wechat bench-ocr lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## create .venv (Python 3.11) and install the pinned lock; a no-op when up to date
	@scripts/setup.sh

setup-browser: setup ## install Debian's chromium (and a Chinese font) for the browser tests when missing; rasa-webchat from npm (cached)
	@scripts/setup_browser.sh

setup-nginx: ## install Debian's nginx (in front of the scaled profile's Rasa processes) when missing
	@scripts/setup_nginx.sh

train: setup ## train the model if its inputs changed (cached by fingerprint)
	@scripts/train.sh

run: train ## start the action server, Rasa (REST + Socket.IO) and the web chat on :8080
	@scripts/run.sh

run-scaled: train setup-nginx ## scaled profile: 2 Rasa processes behind nginx, PostgreSQL + Redis (docs/operators.md “Scaled profile”)
	@ANXIN_PROFILE=scaled scripts/run.sh

shell: train ## chat in the terminal (starts its own action server)
	@export ANXIN_ACTION_SECRET=$${ANXIN_ACTION_SECRET:-$$($(PY) -c 'import secrets; print(secrets.token_hex(24))')}; \
	  export ACTIONS_PORT=$${ACTIONS_PORT:-5055}; \
	  $(PY) -m actions.server --port $$ACTIONS_PORT >/dev/null 2>&1 & trap "kill $$!" EXIT; \
	  $(PY) -m rasa shell --model "$$(cat models/current)" --endpoints endpoints.yml \
	    --logging-config-file privacy/logging.yml

wechat-sim: setup ## chat with a running bot as WeChat would (ARGS="--check", "--api-port 5177", ...)
	$(PY) scripts/wechat_sim.py $(ARGS)

serve-actions: setup ## run only the action server on :5055 (loopback; needs ANXIN_ACTION_SECRET, as Rasa does)
	$(PY) -m actions.server --port 5055

lint: setup ## ruff
	$(PY) -m ruff check .

validate: setup ## rasa data validate (domain, data, rules consistency)
	$(PY) scripts/build_domain_responses.py --check
	$(PY) -m rasa data validate --domain domain --fail-on-warnings

unit: setup ## unit tests: knowledge, NLU pieces, actions, content
	$(PY) -m pytest tests/unit

e2e: train ## conversation stories (rasa test --fail-on-prediction-errors) + held-out NLU scores
	@scripts/e2e.sh

smoke: train ## start the real servers and talk to them over HTTP
	$(PY) -m pytest tests/server

security: train ## real servers: closed API, action server secret, CORS, rate limits, masked logs
	$(PY) -m pytest tests/security

browser: train setup-browser ## the web chat in headless Chromium against the real bot (screenshots: var/artifacts/browser/)
	$(PY) -m pytest tests/browser

faults: train setup-nginx ## real processes: action server down, Rasa restarted or killed under load, PostgreSQL absent
	$(PY) -m pytest tests/faults

test: lint validate unit e2e smoke security browser faults ## everything CI runs

eval: train ## NLU evaluation: held-out set + cross-validation, per-intent P/R/F1, confusion matrices
	@scripts/eval.sh

safety-eval: train ## safety layer: recall and false alarms per kind on tests/safety/, patterns alone and the trained model
	$(PY) scripts/safety_eval.py --quiet
	$(PY) scripts/safety_eval.py --quiet --model "$$(cat models/current)"

probe: train ## start the bot and run the team's probes against it (../shared/eval; ARGS="--cat safety")
	$(PY) scripts/probe.py $(ARGS)

bench: train ## print training/start-up/latency/RSS numbers (not a test)
	$(PY) scripts/bench.py

bench-wechat: train ## WeChat endpoint latency: p95 at 10 concurrent users, passive vs async share
	$(PY) scripts/bench_wechat.py $(ARGS)

bench-ocr: setup ## OCR of a 1080×2400 screenshot: p50/p95 and added RSS against the targets (var/bench/bench_ocr.json)
	$(PY) scripts/bench_ocr.py $(ARGS)

bench-load: train setup-nginx ## N users at once over REST + WeChat: embedded, scaled and plain `rasa init` (var/bench/)
	$(PY) scripts/bench_load.py $(ARGS)

lock: ## regenerate requirements/lock.txt from requirements/*.in (needs network)
	scripts/lock.sh

clean: ## remove trained models and run-time files (keeps .venv and the cache)
	rm -rf models var build .pytest_cache
