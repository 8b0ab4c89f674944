#!/bin/bash
# A version-manager shim in the style of pyenv's: forks helpers of its own, then execs
# the real interpreter with the program's arguments.
version=$(echo 3 | tr -d '\n')
dir=$(dirname "$0")
: "${version}${dir}"
exec python3 "$@"
