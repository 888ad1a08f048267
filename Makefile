# litwatch: `make run` starts the bot, `make test` runs the suite, `make demo` shows the cycle offline.
# Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
MODEL_STAMP := $(VENV)/.installed-model

.PHONY: run demo test bench lint check clean model

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

$(MODEL_STAMP): $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,model]'
	touch $(MODEL_STAMP)

# Rebuild bot/data/safety_model.{npz,json} from ../shared/data and model/labels (deterministic),
# with the team's safety feedback in model/labels/team-*.jsonl and FEEDBACK="FILE ..." if given.
FEEDBACK ?=
model: $(MODEL_STAMP)
	$(BIN)/python model/train.py $(foreach f,$(FEEDBACK),--feedback $(f))

run: $(STAMP)
	$(BIN)/litwatch run

demo: $(STAMP)
	$(BIN)/litwatch demo

check: $(STAMP)
	$(BIN)/litwatch check

test: $(TEST_STAMP)
	$(BIN)/python -m pytest --cov=bot --cov-report=term:skip-covered

bench: $(MODEL_STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(TEST_STAMP)
	$(BIN)/ruff check bot tests bench model
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
