#!/usr/bin/env sh
# Prints the path of a Python >= 3.12 on this machine (Helm's engine, helm-sdkpy, needs one),
# or nothing. Looks on PATH and in pyenv's versions, whose shims may refuse to run one that
# is installed but not selected.
for candidate in python3.14 python3.13 python3.12 python3 \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -r); do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    "$path" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
exit 1
