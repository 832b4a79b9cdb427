#!/bin/sh
# ui/embed.sh SRCDIR FILE... - the web dashboard's files as a C source
# (written to stdout) that defines ui_files[] (src/ui.h): each FILE,
# named relative to SRCDIR, becomes a byte array, so the page is part
# of the fanoutd binary and needs nothing at run time. POSIX sh, od and
# sed only: run by make, in the source tree or a VPATH build.
set -eu
srcdir=$1
shift
echo '/* Generated from ui/ by ui/embed.sh when the build runs: do not edit. */'
echo '#include <stddef.h>'
echo '#include "ui.h"'
i=0
for f in "$@"; do
	echo "static const unsigned char ui_file_$i[] = {"
	od -An -v -tx1 "$srcdir/$f" |
		sed -e 's/[[:space:]][[:space:]]*/ /g' -e 's/^ //' -e 's/ $//' \
			-e '/^$/d' -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
	echo '0};'
	i=$((i + 1))
done
echo 'const struct ui_file ui_files[] = {'
i=0
for f in "$@"; do
	size=$(wc -c <"$srcdir/$f")
	echo "	{\"${f#ui/}\", ui_file_$i, $((size))},"
	i=$((i + 1))
done
echo '	{NULL, NULL, 0}};'
