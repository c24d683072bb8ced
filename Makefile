# vigil: the two commands a user needs are `make demo` and `make check`.
# Everything else here is for developers.

BUILD      ?= build
BUILD_ASAN ?= build-asan
# One compile more than the cores: the build keeps its share of the machine
# when another job runs beside it.
JOBS       ?= $(shell echo $$(( $$(nproc) + 1 )))
# Tests: two more than the cores, as several tests spend their time waiting
# (camera timeouts, reconnect backoff, servers and a browser starting).
CTEST_JOBS ?= $(shell echo $$(( $$(nproc) + 2 )))
VIGIL_CACHE ?= $(HOME)/.cache/vigil
export VIGIL_CACHE
DEMO_OUT   ?= out

.PHONY: all bootstrap build asan check check-fast faults-full demo bench soak soak-live format clean

all: build

bootstrap:
	@scripts/bootstrap

# A new build tree uses Ninja when it is installed (the bootstrap installs
# it): it builds in half the time of Makefiles on 2 cores. A tree keeps the
# generator it was made with. $(call configure,DIR,OPTIONS)
configure = cmake -S . -B $(1) $$(test -f $(1)/CMakeCache.txt || ! command -v ninja >/dev/null || echo -G Ninja) $(2) >/dev/null && touch $(1)/CMakeCache.txt

$(BUILD)/CMakeCache.txt: CMakeLists.txt
	@$(call configure,$(BUILD),-DCMAKE_BUILD_TYPE=RelWithDebInfo)

build: bootstrap $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(BUILD_ASAN)/CMakeCache.txt: CMakeLists.txt
	@$(call configure,$(BUILD_ASAN),-DCMAKE_BUILD_TYPE=Debug -DVG_SANITIZE=ON)

asan: bootstrap $(BUILD_ASAN)/CMakeCache.txt
	cmake --build $(BUILD_ASAN) -j$(JOBS)

# Every test, in the normal build and again under ASan + UBSan. Each test
# has a time limit (CMakeLists.txt) that a loaded machine does not reach but
# a hang does; the fault sweep runs a stratified sample of its fault points
# (tests/test_run_faults.c).
check: build asan
	cd $(BUILD) && ctest --output-on-failure -j$(CTEST_JOBS)
	cd $(BUILD_ASAN) && ctest --output-on-failure -j$(CTEST_JOBS)

# Only the normal build (quicker while developing).
check-fast: build
	cd $(BUILD) && ctest --output-on-failure -j$(CTEST_JOBS)

# The fault sweep at every fault point (SQLite's full sweep), normal build;
# for a release. VIGIL_FAULT_SEED=N draws another sample in `make check`.
faults-full: build
	cd $(BUILD) && VIGIL_FULL_SWEEP=1 ctest --output-on-failure -j$(JOBS) \
	    -R test_run_faults

# The demo builds quietly (the log is shown only when the build fails).
demo: bootstrap $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j$(JOBS) >$(BUILD)/build.log 2>&1 || { cat $(BUILD)/build.log; exit 1; }
	@scripts/demo $(BUILD)/vigil $(DEMO_OUT)

bench: build
	$(BUILD)/vigil bench detect $(VIGIL_CACHE)/videos/vtest.avi
	$(BUILD)/vigil bench run

# The full soak: 1,000,000 synthetic frames through tracker, rules and the
# event store; fails when RSS grows by 1 MiB or more after the first 10 %.
soak: build
	$(BUILD)/soak --frames 1000000

# Live cameras: 8 RTSP cameras at 10 fps from the local GStreamer server for
# SOAK_SECONDS (600); CPU, frames dropped, latency, RSS over time
# (tests/soak/soak_live.sh; CONFIG=job.yaml picks the job's config).
soak-live: build
	VIGIL_BIN=$(BUILD)/vigil tests/soak/soak_live.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
