# xbuild — build, test, demo, bench.
GO        ?= go
BIN       := bin/xbuild
CACHE     := .cache
BUSYBOX   := $(CACHE)/busybox/busybox
GOFLAGS   ?=
export GOFLAGS

.PHONY: build test demo nginx-example bench fmt vet clean deps busybox tools

build: $(BIN)

$(BIN): FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/xbuild

FORCE:

# busybox-static from Debian's archive: apt verifies the .deb against the
# signed Release file of the mirror it came from.
busybox: $(BUSYBOX)
$(BUSYBOX):
	@mkdir -p $(CACHE)/busybox/deb
	@command -v apt-get >/dev/null || { echo "busybox-static needs apt-get (Debian/Ubuntu)"; exit 1; }
	cd $(CACHE)/busybox/deb && (apt-get download busybox-static 2>/dev/null || \
		(apt-get update -qq && apt-get download busybox-static))
	dpkg-deb -x $(CACHE)/busybox/deb/busybox-static_*.deb $(CACHE)/busybox/root
	cp $(CACHE)/busybox/root/bin/busybox $(BUSYBOX)
	$(BUSYBOX) true

# skopeo and umoci from Debian check xbuild's archives in the tests.
tools:
	@command -v skopeo >/dev/null && command -v umoci >/dev/null || \
		{ apt-get install -y -qq skopeo umoci >/dev/null 2>&1 || \
		  (apt-get update -qq && apt-get install -y -qq skopeo umoci); }

deps: busybox tools

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' ':!:testdata/**')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The whole suite: unit tests of every package and the integration suite
# against the real binary, packages in parallel.
test: deps build fmt vet
	XBUILD_BIN=$(CURDIR)/$(BIN) XBUILD_BUSYBOX=$(CURDIR)/$(BUSYBOX) \
		$(GO) test -p 2 -count=1 -timeout 18m ./...

demo: build busybox
	./scripts/demo.sh

# The classic tutorial (Debian base by debootstrap, apt-get install nginx,
# run, curl); needs the machine's Debian mirror and free port 80.
nginx-example: build
	./scripts/nginx-example.sh

# Benchmarks: layer compression, apply, and push/pull of a 1 GiB image
# through the in-process registry.
bench: deps build
	XBUILD_BIN=$(CURDIR)/$(BIN) XBUILD_BUSYBOX=$(CURDIR)/$(BUSYBOX) \
		$(GO) test -run '^$$' -bench . -benchtime 3x $$($(GO) list ./... | grep -v /registry)
	$(GO) test -run '^$$' -bench PushPull -benchtime 2x ./registry -args -size 1024

clean:
	rm -rf bin $(CACHE)
