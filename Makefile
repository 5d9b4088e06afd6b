# The two set-up commands (see README): `make run` and `make test`.
BUILD_DIR ?= build
DATA_DIR  ?= /var/lib/k1s
RUN_DIR   ?= /run/k1s
JOBS      ?= $(shell nproc)

.PHONY: run test build deps deps-test deps-bench unit e2e bench fuzz sanitize clean

deps:
	@scripts/install-deps.sh run

deps-test:
	@scripts/install-deps.sh test

deps-bench:
	@scripts/install-deps.sh bench

$(BUILD_DIR)/build.ninja:
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps $(BUILD_DIR)/build.ninja
	@echo ">> building k1s ($(JOBS) jobs)"
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Builds, imports the lab images, starts the daemon, waits until it answers, then says where the
# kubeconfig is and what to type first. The daemon stays attached to this terminal (its log goes to
# $(DATA_DIR)/server.log); Ctrl-C stops it and removes its network set-up.
run: build
	@mkdir -p $(DATA_DIR) && chmod 700 $(DATA_DIR)
	@echo ">> importing the lab images into $(DATA_DIR)/images"
	@$(BUILD_DIR)/k1s image import --data-dir $(DATA_DIR) $(BUILD_DIR)/images/*.tar | sed 's/^/   /'
	@echo ">> starting k1s server (log: $(DATA_DIR)/server.log)"
	@$(BUILD_DIR)/k1s server --data-dir $(DATA_DIR) --run-dir $(RUN_DIR) --cleanup-on-exit \
	    >>$(DATA_DIR)/server.log 2>&1 & pid=$$!; \
	trap 'echo; echo ">> stopping k1s (pid '$$pid')"; kill -TERM $$pid 2>/dev/null; wait $$pid; exit 0' INT TERM; \
	ready=; for i in $$(seq 1 300); do \
	  kill -0 $$pid 2>/dev/null || break; \
	  if [ -f $(DATA_DIR)/kubeconfig.yaml ] && curl -sf --max-time 2 --cacert $(DATA_DIR)/certs/ca.crt \
	       https://127.0.0.1:6443/readyz >/dev/null 2>&1; then ready=1; break; fi; \
	  sleep 0.1; \
	done; \
	if [ -z "$$ready" ]; then echo "!! k1s server did not become ready; last lines of its log:"; \
	  tail -n 20 $(DATA_DIR)/server.log; kill -TERM $$pid 2>/dev/null; wait $$pid; exit 1; fi; \
	echo ""; \
	echo "k1s is running (pid $$pid); Ctrl-C here stops it."; \
	echo "  kubeconfig:  $(DATA_DIR)/kubeconfig.yaml"; \
	echo "  the lab:     docs/labs/numbers.md (한국어: docs/labs/numbers.ko.md)"; \
	echo "  first step, in another terminal:"; \
	echo "    export KUBECONFIG=$(DATA_DIR)/kubeconfig.yaml"; \
	echo "    kubectl apply -f examples/numbers/api.yaml -f examples/numbers/web.yaml   # or $(BUILD_DIR)/k1s apply ..."; \
	echo "  cluster page: https://127.0.0.1:6443/ui/ (token: awk '/token:/ {print \$$2}' $(DATA_DIR)/kubeconfig.yaml)"; \
	wait $$pid

test: deps-test build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j 2

unit: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L unit

e2e: deps-test build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L e2e

# CI stage: every libFuzzer target (tests/fuzz) built with clang, ASan+UBSan in build-asan and run
# for 1,000,000 executions from a copy of its seed corpus (scripts/fuzz-ci.sh; it installs
# clang and libFuzzer itself). The targets link the libraries `make sanitize` built there.
fuzz:
	@scripts/fuzz-ci.sh

# CI stage: the unit tests and a few e2e tests under ASan+UBSan (build-asan), the controller,
# informer and store tests under TSan (build-tsan); clang (scripts/sanitize-ci.sh).
sanitize: deps-test
	@scripts/sanitize-ci.sh

bench: deps-bench build
	@for b in bench/*.sh; do echo "== $$b"; K1S_BIN=$(BUILD_DIR)/k1s $$b; done

clean:
	rm -rf $(BUILD_DIR)
