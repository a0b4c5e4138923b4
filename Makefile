# smneo: `make test` runs every suite, `make demo` the main job.
# Both install the Debian packages they need first (as root, with apt-get).

BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=
# Optimised as a release is (-O3): the suites run the code that ships, and
# the warnings only -O3 inlining brings out are seen here.
BUILD_TYPE ?= Release

APT_PACKAGES = build-essential cmake pkg-config libcurl4-openssl-dev libcjson-dev libssl-dev \
  zlib1g-dev libarchive-dev libpcre2-dev libdeflate-dev libb2-dev valgrind \
  python3 python3-dev python3-setuptools python3-pytest python3-uvloop python3-mypy python3-exceptiongroup python3-tomli \
  lua5.4 liblua5.4-dev luajit2 libluajit2-5.1-dev lua-busted luarocks nginx-extras libnginx-mod-http-lua \
  pigz clang libclang-rt-14-dev curl openssl abigail-tools

.PHONY: all deps build test test-c test-asan test-python test-python-versions test-lua test-rocks clean bench bench-smoke abi-check abi-update

all: build

deps:
	@sh tools/install-deps.sh $(APT_PACKAGES)

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

# The project's own test builds treat warnings as errors (SMNEO_WERROR for
# CMake, SMNEO_WERROR=1 for setup.py), so a warning from -O3 (gcc and the
# Python extension here) fails `make test`. The option stays in the CMake
# cache: a later `make build` or `make demo` reuses that build as it is.
# `cmake` by hand, and `make build` in a fresh tree, never add -Werror (a
# shipped -Werror breaks distributions on the next compiler).
TEST_FLAGS = -DSMNEO_WERROR=ON
test test-c test-python test-python-versions test-lua: CMAKE_FLAGS += $(TEST_FLAGS)
test test-python test-python-versions: export SMNEO_WERROR = 1

# Every suite: C (ctest, with the ABI check and the C examples), Python, a smoke
# pass of Python under every other CPython 3.8-3.13 present, Lua 5.4 + LuaJIT +
# nginx, luarocks make for Lua 5.4 and LuaJIT (tools/test-rocks.sh), then the
# C suites again under ASan + UBSan (the fuzz smoke runs are sanitized already).
test: build
	@BUILD=$(BUILD) sh tools/run-tests.sh python-ext
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@BUILD=$(BUILD) sh tools/run-tests.sh python python-versions lua rocks
	@$(MAKE) --no-print-directory test-asan

test-c: build
	@BUILD=$(BUILD) sh tools/run-tests.sh python-ext
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The C suites under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DSMNEO_SANITIZE=ON -DSMNEO_BUILD_LUA=OFF $(TEST_FLAGS)
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS) -E fuzz

test-python: build
	@BUILD=$(BUILD) sh tools/run-tests.sh python

# The Python smoke pass under every CPython 3.8-3.13 present (absent ones are skipped).
test-python-versions: build
	@BUILD=$(BUILD) sh tools/run-tests.sh python-versions

test-lua: build
	@BUILD=$(BUILD) sh tools/run-tests.sh python-ext lua

# luarocks make of smneo-scm-1.rockspec for Lua 5.4 and LuaJIT, each into a
# temporary tree, and a smoke test from each (tools/test-rocks.sh).
test-rocks: deps
	@BUILD=$(BUILD) sh tools/run-tests.sh rocks

clean:
	rm -rf $(BUILD) $(BUILD)-asan

# libsmneo.so's ABI against the recorded baseline abi/libsmneo.abi (ctest runs
# the same check in make test); abi-update records the built library's ABI as
# the new baseline (docs/c-api.md, "ABI": when to do it).
abi-check: build
	python3 tools/check_abi.py $(BUILD)/libsmneo.so

abi-update: build
	python3 tools/check_abi.py --update $(BUILD)/libsmneo.so

# The README's main job: compile the example model for a cloud instance and
# an edge device through the CLI, Python and Lua against the local endpoint.
.PHONY: demo
demo: build
	@BUILD=$(BUILD) sh examples/demo.sh

# Every benchmark in bench/ (servers on 127.0.0.1 started and stopped by
# them), one table against bench/targets.json; fails when a target is missed.
# Not part of `make test`. BENCH_ARGS=--record writes the table into
# bench/README.md; bench-smoke runs each for a token size, judging nothing.
bench: build
	@BUILD=$(BUILD) JOBS=$(JOBS) sh bench/run.sh $(BENCH_ARGS)

bench-smoke: build
	@BUILD=$(BUILD) JOBS=$(JOBS) sh bench/run.sh --smoke
