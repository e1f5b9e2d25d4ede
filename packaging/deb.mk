# packaging/deb.mk - the Debian packages (debian/): `make deb` builds
# libctxvar1, libctxvar-dev and ctxvar-tools into $(B)/deb/, `make
# deb-check` builds them, runs lintian and installs them into a scratch
# root to run them from there (packaging/deb-check.sh).  Included from the
# top-level Makefile, which defines B.
#
# dpkg-buildpackage runs in $(DEB_DIR)/src, a copy of the files git tracks
# as they are in the working tree, uncommitted edits included (`git stash
# create` makes a commit of them without touching the working tree, the
# index or the stash, and `git archive` writes it out), and writes
# the packages to its parent, $(DEB_DIR).  The copy has a build directory
# of its own, so the developer's $(B) is never cleaned or rebuilt with the
# package's flags, and nothing untracked (an old build, node_modules) gets
# into the package.  DEB_BUILD_OPTIONS defaults to parallel=2; set it to
# change that (nocheck skips the C tests run during the build).

DEB_DIR := $(B)/deb
DEB_BUILD_OPTIONS ?= parallel=2

.PHONY: deb deb-check
deb:
	@command -v dpkg-buildpackage >/dev/null || \
	    { echo "make deb: dpkg-buildpackage not found (Debian: apt-get install dpkg-dev debhelper fakeroot)" >&2; exit 1; }
	@git rev-parse --is-inside-work-tree >/dev/null 2>&1 || \
	    { echo "make deb: needs a git checkout: the package is built from the files git tracks" >&2; exit 1; }
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	tree=$$(git stash create) && git archive --format=tar $${tree:-HEAD} | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && DEB_BUILD_OPTIONS='$(DEB_BUILD_OPTIONS)' dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

deb-check: deb
	packaging/deb-check.sh $(DEB_DIR)
