# Shared helpers of the project's scripts (sourced, not run).
# shellcheck shell=bash

SOUNDLAKE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SOUNDLAKE_ROOT
# The Python virtual environment (override to keep it outside the checkout, as CI does).
export SOUNDLAKE_VENV="${SOUNDLAKE_VENV:-$SOUNDLAKE_ROOT/.venv}"

step_started=0
step() {
    step_started=$(date +%s)
    printf '\n\033[1m==> %s\033[0m\n' "$*" >&2
}
step_done() {
    printf '    (%ss)\n' "$(( $(date +%s) - step_started ))" >&2
}
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Run the venv's `soundlake` command (the installed python/soundlake package) with the given
# arguments, in place of this shell. On a fresh machine scripts/setup-python makes the venv first.
exec_soundlake() {
    if [[ ! -x "$SOUNDLAKE_VENV/bin/soundlake" ]]; then
        printf 'the Python environment %s has no `soundlake` command yet: running scripts/setup-python\n' \
            "$SOUNDLAKE_VENV" >&2
        "$SOUNDLAKE_ROOT/scripts/setup-python" >&2 \
            || die "scripts/setup-python could not make the Python environment (see above)"
    fi
    exec "$SOUNDLAKE_VENV/bin/soundlake" "$@"
}
