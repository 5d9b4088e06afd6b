# The two set-up commands (see README): `make run` and `make test`.
BUILD_DIR ?= build
DATA_DIR  ?= /var/lib/k1s
RUN_DIR   ?= /run/k1s
JOBS      ?= $(shell nproc)

.PHONY: run test build deps deps-test deps-bench unit e2e bench clean

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

# Builds, then starts the daemon in the foreground with the default data dir.
run: build
	@echo ">> loading the lab images into $(DATA_DIR)/images/import:" $$(cd $(BUILD_DIR)/images && ls *.tar)
	@mkdir -p $(DATA_DIR)/images/import && cp $(BUILD_DIR)/images/*.tar $(DATA_DIR)/images/import/
	@echo ">> starting k1s server (data dir $(DATA_DIR)); kubeconfig: $(DATA_DIR)/kubeconfig.yaml"
	@echo ">> in another terminal: export KUBECONFIG=$(DATA_DIR)/kubeconfig.yaml; kubectl get nodes"
	@$(BUILD_DIR)/k1s server --data-dir $(DATA_DIR) --run-dir $(RUN_DIR) --cleanup-on-exit

test: deps-test build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j 2

unit: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L unit

e2e: deps-test build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L e2e

bench: deps-bench build
	@for b in bench/*.sh; do echo "== $$b"; K1S_BIN=$(BUILD_DIR)/k1s $$b; done

clean:
	rm -rf $(BUILD_DIR)
