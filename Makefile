# The same commands as the README and .ci/run. `make app` and `make test` set everything up first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501
# The GPU build (requirements-gpu.txt: TensorFlow with CUDA) when `nvidia-smi -L` lists a GPU;
# `make app GPU=0` forces the CPU build (requirements.txt), `GPU=1` the GPU one.
GPU ?= $(shell nvidia-smi -L 2>/dev/null | grep -q '^GPU' && echo 1 || echo 0)
ifeq ($(GPU),1)
BUILD := gpu
REQS := requirements-gpu.txt
OTHER_TF := tensorflow_cpu tensorflow-cpu
else
BUILD := cpu
REQS := requirements.txt
OTHER_TF := tensorflow
endif
STAMP := $(VENV)/.installed-$(BUILD)
# `make setup RAY=1` adds Ray (requirements-ray.txt) for `facedash embed --engine ray`;
# the test targets always add it (CI runs tests/test_ray.py).
RAY ?= 0
RAY_STAMP := $(VENV)/.installed-ray
# The test targets add the converters that make the tests' models from FaceNet
# (requirements-convert.txt: onnx, tf2onnx; tests/model_zoo.py). `make app` does not.
CONVERT_STAMP := $(VENV)/.installed-convert

.PHONY: setup ray-deps convert-deps assets app classroom test test-fast browser-deps lint bench clean i18n i18n-extract

$(STAMP): requirements.txt requirements-gpu.txt requirements-dev.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@# Switching builds: the two TensorFlow wheels must not be installed side by side.
	@if ls $(VENV)/.installed-* >/dev/null 2>&1 && [ ! -f $(STAMP) ]; then \
	  $(BIN)/python -m pip uninstall -y -q $(OTHER_TF) || true; rm -f $(VENV)/.installed-*; fi
	sed '/^-r /d' requirements-dev.txt > $(VENV)/dev-tools.txt
	$(BIN)/python -m pip install -q -r $(REQS) -r $(VENV)/dev-tools.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e . || $(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

$(RAY_STAMP): $(STAMP) requirements-ray.txt
	$(BIN)/python -m pip install -q -r requirements-ray.txt
	touch $(RAY_STAMP)

ray-deps: $(RAY_STAMP)

$(CONVERT_STAMP): $(STAMP) requirements-convert.txt
	$(BIN)/python -m pip install -q -r requirements-convert.txt
	touch $(CONVERT_STAMP)

convert-deps: $(CONVERT_STAMP)

setup: $(STAMP) $(if $(filter 1,$(RAY)),$(RAY_STAMP))

assets: setup
	$(BIN)/facedash assets fetch

# Start the dashboard on the bundled demo set (`facedash serve`: the models warm up before a
# browser connects; FACEDASH_WARM=0 skips that).
app: assets
	$(BIN)/facedash serve --port $(PORT)

# Serve it to a class on this network: a link with an access token, and its QR code.
classroom: assets
	$(BIN)/facedash serve --lan --port $(PORT)

# Debian's chromium drives the browser tests (Playwright uses it through executable_path).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Install Debian's chromium first: sudo apt-get install chromium" >&2; exit 1; fi; }

# Run the whole test suite (real model, real demo faces, headless Chromium).
test: assets ray-deps convert-deps browser-deps
	$(BIN)/python -m pytest

test-fast: assets ray-deps convert-deps
	$(BIN)/python -m pytest -m "not browser"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Languages: extract the app's messages (babel.cfg), merge them into each catalog under
# facedash/locale (new ones empty, for a translator), then compile the .mo files the app loads.
# tests/test_i18n.py fails while a message is untranslated or a .mo is out of date.
LOCALES := facedash/locale
i18n-extract: setup
	$(BIN)/pybabel extract -F babel.cfg --add-location=file --sort-by-file -w 100 \
	  --project=facedash -o $(LOCALES)/facedash.pot .
	$(BIN)/pybabel update -i $(LOCALES)/facedash.pot -d $(LOCALES) -D facedash -w 100 \
	  --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date

# Compiled with Babel's own writer (facedash/i18n.py): `pybabel compile` would refuse messages
# such as "95% interval", taking "% i" for a printf placeholder (ours are str.format fields).
i18n: i18n-extract
	$(BIN)/python -m facedash.i18n

bench: assets
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) artifacts .pytest_cache
