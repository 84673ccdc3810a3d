# Fuzzing (fuzz/README.md). Included from the Makefile after its own variables: it uses BUILD,
# CC, CLANG, CFLAGS, LDFLAGS, LDLIBS, COMMON_SRC, CNI_LIB_SRC, AGENT_LIB_SRC and ASAN_FLAGS, and
# adds:
#   FUZZ_REPLAY_BINS  build/fuzz/replay_<target>: gcc + ASan/UBSan, replay a corpus without
#                     libFuzzer (fuzz/replay_all.sh runs them all, and so does `make test`)
#   make fuzz-replay  builds them and replays every corpus
#   make fuzz         builds build/fuzz/fuzz_<target> with clang -fsanitize=fuzzer,address,
#                     undefined and runs each for FUZZ_SECONDS on its corpus (new inputs go to
#                     build/fuzz/corpus/<target>, crashes to fuzz/crashes/)
#   FUZZ_TARGETS      the targets (fuzz/fuzz_<target>.c, corpus in fuzz/corpus/<target>/)

FUZZ_TARGETS     := cni_config cni_args prev_result yaml kubeconfig k8s_objects watch_event \
                    standalone datapath_packets
FUZZ_SECONDS     ?= 20
FUZZ_DIR         := $(BUILD)/fuzz
FUZZ_OBJ         := $(BUILD)/fuzz-obj
FUZZ_CC          ?= $(CLANG)
FUZZ_SUPPORT_SRC := fuzz/fuzz_support.c
FUZZ_PRODUCT_SRC := $(CNI_LIB_SRC) $(AGENT_LIB_SRC) $(COMMON_SRC)

FUZZ_REPLAY_BINS := $(patsubst %,$(FUZZ_DIR)/replay_%,$(FUZZ_TARGETS))
FUZZ_BINS        := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))

# clang: the product's flags without the ones clang 14 lacks; -Werror only for fuzz/ sources, so
# a clang-only warning in product code does not stop fuzzing (gcc keeps it fatal in `make`).
FUZZ_SANITIZE    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS      := $(filter-out -Werror -Wno-format-truncation,$(CFLAGS)) \
                    -Icni -Iagent -Itests -Ifuzz
fuzz_obj = $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(1))

.PHONY: fuzz fuzz-build fuzz-replay

# Replay objects: gcc with the Makefile's ASAN_FLAGS (address, undefined and float-cast-overflow,
# which gcc's -fsanitize=undefined leaves out), built apart from $(ASAN_OBJ) because their
# include path has fuzz/ where the unit tests' has tests/bpf/.
FUZZ_REPLAY_OBJ      := $(BUILD)/fuzz-replay-obj
FUZZ_REPLAY_SANITIZE := $(ASAN_FLAGS)
fuzz_replay_obj = $(patsubst %.c,$(FUZZ_REPLAY_OBJ)/%.o,$(1))

$(FUZZ_REPLAY_OBJ)/%.o: %.c | $(BUILD)/pod.skel.h $(BUILD)/socket_lb.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) $(FUZZ_REPLAY_SANITIZE) -Icni -Iagent -Itests -Ifuzz -c $< -o $@

# Comparison tracing is left out where loops walk thousands of hash buckets per call (it made
# the compiler targets several times slower); those files keep their coverage counters.
FUZZ_NO_TRACE_CMP := agent/object_store.c agent/id_table.c agent/reconciler.c

$(FUZZ_OBJ)/%.o: %.c | $(BUILD)/pod.skel.h $(BUILD)/socket_lb.skel.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) $(if $(filter fuzz/%,$<),-Werror) $(FUZZ_SANITIZE) \
		-fsanitize=fuzzer-no-link \
		$(if $(filter $(FUZZ_NO_TRACE_CMP),$<),-fno-sanitize-coverage=trace-cmp) -c $< -o $@

define FUZZ_TARGET_RULES
$(FUZZ_DIR)/replay_$(1): $(call fuzz_replay_obj,fuzz/fuzz_$(1).c fuzz/replay_main.c $(FUZZ_SUPPORT_SRC) $(FUZZ_PRODUCT_SRC))
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) $$(FUZZ_REPLAY_SANITIZE) $$^ $$(LDLIBS) -o $$@

$(FUZZ_DIR)/fuzz_$(1): $(call fuzz_obj,fuzz/fuzz_$(1).c $(FUZZ_SUPPORT_SRC) $(FUZZ_PRODUCT_SRC))
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(LDFLAGS) $$(FUZZ_SANITIZE) -fsanitize=fuzzer $$^ $$(LDLIBS) -o $$@
endef
$(foreach target,$(FUZZ_TARGETS),$(eval $(call FUZZ_TARGET_RULES,$(target))))

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) ./fuzz/run_fuzz.sh $(FUZZ_DIR) $(FUZZ_TARGETS)

fuzz-replay: $(FUZZ_REPLAY_BINS)
	@./fuzz/replay_all.sh $(FUZZ_DIR)
