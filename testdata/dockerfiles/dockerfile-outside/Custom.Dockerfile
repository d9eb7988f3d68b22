# Built with -f pointing here and context/ as the build context: the
# Dockerfile is not part of the context, and context/Dockerfile (which
# would fail) is an ordinary context file.
FROM xbuild-test/busybox
COPY . /ctx/
RUN ls -A /ctx > /ctx-listing.txt
