# The two entry points on a fresh Debian machine (as root): `make demo` and `make test`.
# Each installs missing system packages first.

.PHONY: demo test build deps

deps:
	@bash scripts/install-deps.sh

build: deps
	swift build -c release --product modelfile --static-swift-stdlib

demo: build
	@bash scripts/demo.sh .build/release/modelfile

test: deps
	swift build --build-tests
	swift test
