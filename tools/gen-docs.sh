#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerate the documents derived from the config key table:
# ports/linux/farnode.conf and the README reference table.
set -eu
bin=${1:-build/farnode}
"$bin" config --sample >ports/linux/farnode.conf
"$bin" config --markdown >build/config-table.md
python3 - build/config-table.md README.md <<'PY'
import re, sys
table = open(sys.argv[1]).read()
readme = open(sys.argv[2]).read()
pat = re.compile(r"(<!-- config-table:start[^\n]*-->\n).*?(<!-- config-table:end -->)", re.S)
if not pat.search(readme):
    sys.exit("README.md: config-table markers missing")
readme = pat.sub(lambda m: m.group(1) + table + m.group(2), readme)
open(sys.argv[2], "w").write(readme)
PY
echo "regenerated ports/linux/farnode.conf and the README configuration table"
