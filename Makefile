# weir: `make` builds build/weir-cni, build/weir-agent and build/weirctl with the BPF objects
# embedded through libbpf skeletons. `make test`, `make demo` and `make bench` install what is
# missing first (scripts/deps.sh).

BUILD       := build
OBJ         := $(BUILD)/obj
CC          ?= gcc
CLANG       ?= clang
BPFTOOL     ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH_INC    := /usr/include/$(shell $(CC) -dumpmachine)

PKGS        := libnl-route-3.0 libcjson libbpf libcurl yaml-0.1
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# A machine without the build's packages is told so up front, with the command that installs
# them, instead of a compiler error about a missing header. The goals that install first
# (test, demo, bench run scripts/deps.sh, then make again) and those that build nothing skip it.
NO_PREREQ_GOALS := deps test demo bench clean lint kind-up kind-e2e fuzz-replay
MISSING_TOOLS   := $(foreach tool,$(CC) $(CLANG) pkg-config,$(if $(shell command -v $(tool) 2>/dev/null),,$(tool))) \
                   $(if $(wildcard $(BPFTOOL)),,bpftool)
MISSING_PKGS    := $(foreach pkg,$(PKGS),$(if $(shell pkg-config --exists $(pkg) 2>/dev/null && echo y),,$(pkg)))
MISSING_PREREQS := $(strip $(MISSING_TOOLS) $(MISSING_PKGS))
ifneq ($(MISSING_PREREQS),)
ifeq ($(filter $(NO_PREREQ_GOALS),$(MAKECMDGOALS)),)
$(error missing $(MISSING_PREREQS): run `make deps` (scripts/deps.sh installs every Debian package the build needs))
endif
endif

CFLAGS      ?= -O2 -g
# Messages are truncated on purpose where buffers are fixed; the rest of -Wall stays fatal.
CFLAGS      += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-format-truncation -Icommon -Ibpf -I$(BUILD) \
               -I/usr/include/libnl3 -I/usr/include/cjson $(PKG_CFLAGS)
# Tests and fuzz targets link everything; each product binary only what it uses (below).
LDLIBS      += $(PKG_LIBS) -lnl-route-3 -lnl-3 -lcjson -lbpf -lelf -lz -lcurl -lyaml
AGENT_LIBS  := -lcurl -lyaml -lcjson -lnl-route-3 -lnl-3 -lbpf -lelf -lz
CTL_LIBS    := -lcjson -lbpf -lelf -lz
BPF_CFLAGS  := -O2 -g -target bpf -Wall -Werror -I$(ARCH_INC) -Ibpf

COMMON_SRC  := $(wildcard common/*.c)
CNI_SRC     := $(wildcard cni/*.c)
AGENT_SRC   := $(wildcard agent/*.c)
CTL_SRC     := $(wildcard weirctl/*.c)

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))
# The binaries take the common objects from an archive, so each links only the ones it calls
# (and so only the libraries those need).
COMMON_LIB  := $(BUILD)/libweir-common.a

BINARIES    := $(BUILD)/weir-cni $(BUILD)/weir-agent $(BUILD)/weirctl
TEST_BINS   := $(BUILD)/tests/unit_tests $(BUILD)/tests/bpf_tests $(BUILD)/tests/unit_tests_sanitized

.PHONY: all deps test test-unit test-bpf test-e2e demo bench lint clean kind-up kind-e2e
all: $(BINARIES)

deps:
	@./scripts/deps.sh

$(BUILD)/pod.bpf.o: bpf/pod.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/pod.skel.h: $(BUILD)/pod.bpf.o
	$(BPFTOOL) gen skeleton $< name pod_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/socket_lb.bpf.o: bpf/socket_lb.bpf.c
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/socket_lb.skel.h: $(BUILD)/socket_lb.bpf.o
	$(BPFTOOL) gen skeleton $< name socket_lb_bpf > $@.tmp && mv $@.tmp $@

# Header dependencies come from the compiler (-MMD -MP); the skeletons are generated before
# anything includes them.
DEPFLAGS    := -MMD -MP
$(OBJ)/%.o: %.c | $(BUILD)/pod.skel.h $(BUILD)/socket_lb.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -Icni -Iagent -Itests -Itests/bpf -c $< -o $@

$(COMMON_LIB): $(call obj,$(COMMON_SRC))
	@rm -f $@.tmp
	ar rcs $@.tmp $^ && mv $@.tmp $@

# weir-cni is statically linked: the runtime execs it on nodes that have only libc (a kind
# node has none of weir's libraries). Debian ships no static cJSON, so scripts/static-cjson.sh
# builds one from Debian's source of the installed version.
CNI_STATIC_LIBS := $(BUILD)/static/libcjson.a -lnl-route-3 -lnl-3 -lbpf -lelf -lz -lyaml -lpthread -lm

$(BUILD)/static/libcjson.a: scripts/static-cjson.sh
	@./scripts/static-cjson.sh $(@D)

$(BUILD)/weir-cni: $(call obj,$(CNI_SRC)) $(COMMON_LIB) $(BUILD)/static/libcjson.a
	$(CC) $(LDFLAGS) -static $(filter %.o,$^) $(COMMON_LIB) $(CNI_STATIC_LIBS) -o $@

$(BUILD)/weir-agent: $(call obj,$(AGENT_SRC)) $(COMMON_LIB)
	$(CC) $(LDFLAGS) $^ $(AGENT_LIBS) -o $@

$(BUILD)/weirctl: $(call obj,$(CTL_SRC)) $(COMMON_LIB)
	$(CC) $(LDFLAGS) $^ $(CTL_LIBS) -o $@

CNI_LIB_SRC := $(filter-out cni/main.c,$(CNI_SRC))
AGENT_LIB_SRC := $(filter-out agent/main.c,$(AGENT_SRC))

$(BUILD)/tests/unit_tests: $(call obj,$(wildcard tests/unit/*.c) tests/test_runner.c $(CNI_LIB_SRC) $(AGENT_LIB_SRC) $(COMMON_SRC))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/bpf_tests: $(call obj,$(wildcard tests/bpf/*.c) tests/test_runner.c $(COMMON_SRC))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer. gcc's
# -fsanitize=undefined leaves out float-cast-overflow (clang's includes it; libFuzzer found such
# a bug), so it is named too. The fuzz replay binaries use the same flags.
ASAN_OBJ    := $(BUILD)/asan-obj
ASAN_FLAGS  := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
               -fno-sanitize-recover=all
asan_obj = $(patsubst %.c,$(ASAN_OBJ)/%.o,$(1))
UNIT_SRC    := $(wildcard tests/unit/*.c) tests/test_runner.c $(CNI_LIB_SRC) $(AGENT_LIB_SRC) $(COMMON_SRC)

$(ASAN_OBJ)/%.o: %.c | $(BUILD)/pod.skel.h $(BUILD)/socket_lb.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(ASAN_FLAGS) -Icni -Iagent -Itests -Itests/bpf -c $< -o $@

$(BUILD)/tests/unit_tests_sanitized: $(call asan_obj,$(UNIT_SRC))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $(ASAN_FLAGS) $^ $(LDLIBS) -o $@

BENCH_BINS  := $(BUILD)/bench/datapath_bench $(BUILD)/bench/tcp_rr
TOOL_BINS   := $(BUILD)/tests/weir-maptool

$(BUILD)/tests/weir-maptool: $(call obj,tests/tools/maptool.c $(COMMON_SRC))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bench/datapath_bench: $(call obj,bench/datapath_bench.c tests/bpf/packet.c $(COMMON_SRC))
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bench/tcp_rr: $(call obj,bench/tcp_rr.c)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ -o $@

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BINS) $(TOOL_BINS) $(FUZZ_REPLAY_BINS)
	@./tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@./demo/demo.sh

bench:
	@./scripts/deps.sh bench
	@$(MAKE) --no-print-directory all $(BENCH_BINS) $(TOOL_BINS)
	@./bench/run.sh

# A real kind cluster (where docker and kind exist; elsewhere these print SKIP).
kind-up:
	@./tests/e2e/kind/kind.sh up

kind-e2e:
	@./tests/e2e/kind/kind.sh e2e

lint:
	clang-format --dry-run --Werror $(COMMON_SRC) $(CNI_SRC) $(AGENT_SRC) $(CTL_SRC) bpf/*.c bpf/*.h bpf/lib/*.h
	cppcheck --quiet --error-exitcode=1 --std=c11 -Icommon -Ibpf -Icni -Iagent \
		--suppress=missingIncludeSystem common cni agent weirctl

clean:
	rm -rf $(BUILD)

# Fuzz targets, and their corpora replayed as regression tests (fuzz/README.md).
include fuzz/fuzz.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
