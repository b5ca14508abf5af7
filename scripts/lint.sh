#!/bin/bash
# lint.sh - the checks behind `make lint` (docs/quality.md says why each).
#
#   scripts/lint.sh [format|cppcheck|shell|all]...      (default: all)
#
#   format    clang-format --dry-run --Werror (style: .clang-format) on every
#             C file under core/ plugins/ include/ tests/ bench/, except any
#             listed in .clang-format-ignore (none today); this script only
#             checks, it never rewrites a file.
#   cppcheck  cppcheck --enable=warning,performance,portability, every
#             finding an error; suppressions inline (// cppcheck-suppress id)
#             or in .cppcheck-suppressions, each with its reason.
#   shell     shellcheck on every shell script: *.sh, and files whose #! line
#             names sh or bash (.ci/run), outside node_modules.
#
# Works from a git checkout or an unpacked tarball (no git needed); exits
# non-zero when any check fails, after running all of them.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src"
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
CPPCHECK=${CPPCHECK:-cppcheck}
SHELLCHECK=${SHELLCHECK:-shellcheck}

say() { printf '%s\n' "lint: $*" >&2; }
need() {
    command -v "$1" >/dev/null ||
        { say "$1 not found: install the Debian package $2 (apt-get install $2)"; exit 2; }
}

# C sources and headers we own, sorted, relative to the tree's top.
c_files() {
    find core plugins include tests bench -name node_modules -prune -o \
        -type f \( -name '*.c' -o -name '*.h' \) -print 2>/dev/null | sort
}

# Paths listed in .clang-format-ignore (comments and blank lines dropped).
format_ignored() {
    [ -f .clang-format-ignore ] || return 0
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' .clang-format-ignore
}

check_format() {
    need "$CLANG_FORMAT" clang-format
    local ignored files=() f
    ignored=$(format_ignored)
    while IFS= read -r f; do
        grep -qxF -- "$f" <<<"$ignored" || files+=("$f")
    done < <(c_files)
    # a listed file that no longer exists is a stale entry: say so (a
    # warning: a rename in flight on another branch should not fail lint)
    while IFS= read -r f; do
        [ -z "$f" ] || [ -e "$f" ] || say "warning: .clang-format-ignore lists $f, which does not exist"
    done <<<"$ignored"
    say "clang-format: ${#files[@]} files checked, $(grep -c . <<<"$ignored" || true) listed in .clang-format-ignore"
    "$CLANG_FORMAT" --dry-run --Werror "${files[@]}"
}

check_cppcheck() {
    need "$CPPCHECK" cppcheck
    local supp=()
    [ -f .cppcheck-suppressions ] && supp=(--suppressions-list=.cppcheck-suppressions)
    say "cppcheck: core plugins tests bench"
    # -D_GNU_SOURCE as the build; the PostgreSQL driver is checked both ways
    # (cppcheck tries the #ifdef configurations itself).
    "$CPPCHECK" --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
        --std=c11 --quiet -j "$(nproc 2>/dev/null || echo 2)" -D_GNU_SOURCE \
        -DBH_PLUGIN_DIR='"/usr/lib/bilhetagem/plugins"' -I include -I core "${supp[@]}" \
        core plugins tests bench
}

# Shell scripts: by extension or by #! line.
shell_files() {
    find scripts tests bench .ci deploy -name node_modules -prune -o -type f -print 2>/dev/null |
        while IFS= read -r f; do
            case $f in
            *.sh) echo "$f" ;;
            *.c | *.h | *.json | *.mjs | *.js | *.md | *.txt | *.bin | *.yml | *.yaml) ;;
            *) head -n1 "$f" 2>/dev/null | grep -qE '^#!.*[/ ](ba)?sh([[:space:]]|$)' && echo "$f" ;;
            esac
        done | sort
}

check_shell() {
    need "$SHELLCHECK" shellcheck
    local files=()
    mapfile -t files < <(shell_files)
    say "shellcheck: ${files[*]}"
    "$SHELLCHECK" --external-sources "${files[@]}"
}

[ $# -gt 0 ] || set -- all
[ "$1" = all ] && set -- format cppcheck shell
failed=()
for check in "$@"; do
    case $check in
    format) check_format || failed+=(clang-format) ;;
    cppcheck) check_cppcheck || failed+=(cppcheck) ;;
    shell) check_shell || failed+=(shellcheck) ;;
    *) echo "usage: $0 [format|cppcheck|shell|all]..." >&2; exit 2 ;;
    esac
done
if [ ${#failed[@]} -gt 0 ]; then
    say "FAILED: ${failed[*]}"
    exit 1
fi
say "all checks passed"
