#!/bin/bash
# OCI runtime-spec conformance: run opencontainers/runtime-tools' `validation/` tests
# against berth-runtime and runc, side by side, and print one table.
#
#   runtime/conformance.sh SUITE_DIR
#
# SUITE_DIR is a runtime-tools source tree (commit 260e151 builds offline with Debian's
# Go 1.19 from its vendored sources; newer commits need Go 1.21). It is built in place
# (`make runtimetest validation-executables`, GOFLAGS=-mod=vendor GOPROXY=off); nothing
# is downloaded but golang-go from apt when `go` is missing. Run as root.
#
# Environment: BERTH_RUNTIME (default: build target/release/berth-runtime), RUNC
# (default: runc on PATH), TESTS (space-separated subset), TIMEOUT (s per test, 90).
#
# Each runtime gets its own --root under a temp dir; after every test the containers
# left there are force-deleted, and at the end the temp dir, bundles (/tmp/ocitest*,
# with any mount runc leaves under them) and the suite's empty test cgroups are removed.
#
# Counting: P/F/S = TAP `ok` / `not ok` / `ok ... # SKIP` lines. PASS = no `not ok`;
# FAIL = some `not ok`; ERROR = the test stopped before any assertion (exit != 0, or a
# `1..0` plan with an "error" diagnostic); WARN = no assertion, only a `WARNING:` on
# stderr (the poststart/poststop tests say so when the hook never ran). The *_fail
# tests that print nothing on success are judged by their exit code.
set -euo pipefail

suite=${1:?usage: $0 SUITE_DIR}
suite=$(cd "$suite" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
timeout_s=${TIMEOUT:-90}

[ "$(id -u)" = 0 ] || { echo "conformance.sh: run as root" >&2; exit 2; }

if ! command -v go >/dev/null; then
    if [ -x /usr/lib/go/bin/go ]; then
        PATH=$PATH:/usr/lib/go/bin
    else
        echo "conformance.sh: installing golang-go (apt)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-go >&2
    fi
fi

echo "conformance.sh: building the suite in $suite" >&2
(cd "$suite" && GOFLAGS=-mod=vendor GOPROXY=off make runtimetest validation-executables >&2)

berth=${BERTH_RUNTIME:-}
if [ -z "$berth" ]; then
    echo "conformance.sh: building berth-runtime (release)" >&2
    (cd "$repo" && cargo build --release -q -p berth-runtime >&2)
    berth=$repo/target/release/berth-runtime
fi
runc=${RUNC:-$(command -v runc || true)}
[ -x "$berth" ] || { echo "conformance.sh: no berth-runtime at $berth" >&2; exit 2; }

work=$(mktemp -d /tmp/berth-conformance.XXXXXX)
mkdir -p "$work/bin" "$work/state/runc" "$work/state/berth-runtime" "$work/out"
cleanup() {
    # Mounts a runtime left under a bundle (runc without a mount namespace mounts in
    # the host's), then the bundles and the suite's own cgroups, then our temp dir.
    awk '$5 ~ /^\/tmp\/ocitest/ {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system /tmp/ocitest* 2>/dev/null || true
    for d in /sys/fs/cgroup/*/testdir/cgrouptest /sys/fs/cgroup/*/berth/testdir/cgrouptest \
        /sys/fs/cgroup/*/testdir /sys/fs/cgroup/*/berth/testdir; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

runtimes=(berth-runtime)
printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$berth" "$work/state/berth-runtime" >"$work/bin/berth-runtime"
if [ -n "$runc" ]; then
    runtimes=(runc berth-runtime)
    printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$runc" "$work/state/runc" >"$work/bin/runc"
else
    echo "conformance.sh: no runc on PATH: berth-runtime only" >&2
fi
chmod +x "$work/bin/"*

tests=${TESTS:-$(cd "$suite/validation" && for t in */; do
    t=${t%/}
    if [ -x "$t/$t.t" ]; then echo "$t"; fi
done)}

# Force-delete whatever a test left in a runtime's root; print how many.
sweep() {
    local rt=$1 n=0 id
    for d in "$work/state/$rt"/*/; do
        [ -d "$d" ] || continue
        id=$(basename "$d")
        "$work/bin/$rt" delete -f "$id" >/dev/null 2>&1 || true
        rm -rf "$d" 2>/dev/null || true
        n=$((n + 1))
    done
    echo "$n"
}

# verdict TEST TAP STDERR RC -> "P F S VERDICT"
verdict() {
    local t=$1 tap=$2 err=$3 rc=$4 p f s v
    p=$(grep -Ec '^ok ' "$tap" || true)
    s=$(grep -Eic '^ok .*# skip' "$tap" || true)
    f=$(grep -Ec '^not ok' "$tap" || true)
    p=$((p - s))
    case $t in
    process_rlimits_fail | process_capabilities_fail)
        if [ "$rc" = 0 ]; then v=PASS; else v=FAIL; fi ;;
    *)
        if [ "$f" -gt 0 ]; then
            v=FAIL
        elif [ $((p + s)) -gt 0 ]; then
            if [ "$rc" = 0 ]; then v=PASS; else v=ERROR; fi
        elif [ "$rc" != 0 ] || grep -q '"*error"*:' "$tap"; then
            v=ERROR
        elif grep -q '^WARNING:' "$err"; then
            v=WARN
        else
            v=PASS
        fi ;;
    esac
    echo "$p $f $s $v"
}

for t in $tests; do
    for rt in "${runtimes[@]}"; do
        out=$work/out/$rt.$t
        rc=0
        (cd "$suite" && RUNTIME=$work/bin/$rt timeout -k 5 "$timeout_s" \
            "./validation/$t/$t.t" >"$out.tap" 2>"$out.err") || rc=$?
        left=$(sweep "$rt")
        echo "$(verdict "$t" "$out.tap" "$out.err" "$rc") $left" >"$out.v"
        echo "conformance.sh: $t $rt: $(cat "$out.v")" >&2
    done
    # Bundles of this test (and mounts a runtime left under them).
    awk '$5 ~ /^\/tmp\/ocitest/ {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system /tmp/ocitest* 2>/dev/null || true
done

# A test runc passed and berth-runtime did not is run again RERUNS times under each:
# some of the suite's tests race the container's process (pidfile kills a `true` that
# may already have exited; killsig signals a shell that may not have set its trap).
# It counts as missing only if berth-runtime then passes it less often than runc.
reruns=${RERUNS:-5}
declare -A flaky
for t in $tests; do
    [ -n "$runc" ] || break
    read -r _ _ _ rv _ <"$work/out/runc.$t.v"
    read -r _ _ _ bv _ <"$work/out/berth-runtime.$t.v"
    [ "$rv" = PASS ] && [ "$bv" != PASS ] || continue
    declare -A wins=([runc]=0 [berth-runtime]=0)
    for _ in $(seq "$reruns"); do
        for rt in runc berth-runtime; do
            out=$work/out/rerun
            rc=0
            (cd "$suite" && RUNTIME=$work/bin/$rt timeout -k 5 "$timeout_s" \
                "./validation/$t/$t.t" >"$out.tap" 2>"$out.err") || rc=$?
            sweep "$rt" >/dev/null
            read -r _ _ _ v <<<"$(verdict "$t" "$out.tap" "$out.err" "$rc")"
            [ "$v" = PASS ] && wins[$rt]=$((${wins[$rt]} + 1))
        done
        awk '$5 ~ /^\/tmp\/ocitest/ {print $5}' /proc/self/mountinfo | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null || true; done
        rm -rf --one-file-system /tmp/ocitest* 2>/dev/null || true
    done
    flaky[$t]="reruns: runc ${wins[runc]}/$reruns, berth-runtime ${wins[berth-runtime]}/$reruns"
    echo "conformance.sh: $t ${flaky[$t]}" >&2
    if [ "${wins[berth-runtime]}" -ge "${wins[runc]}" ]; then
        flaky[$t]="${flaky[$t]} (timing-dependent for both)"
    fi
done

# The table.
header="| test |"
rule="|---|"
for rt in "${runtimes[@]}"; do
    header="$header $rt P/F/S | $rt |"
    rule="$rule---|---|"
done
echo "$header"
echo "$rule"
declare -A npass nfail nerr nwarn
missing=()
for t in $tests; do
    line="| $t |"
    for rt in "${runtimes[@]}"; do
        read -r p f s v left <"$work/out/$rt.$t.v"
        note=""
        [ "$left" != 0 ] && note=" (left $left)"
        line="$line $p/$f/$s | $v$note |"
        case $v in
        PASS) npass[$rt]=$((${npass[$rt]:-0} + 1)) ;;
        FAIL) nfail[$rt]=$((${nfail[$rt]:-0} + 1)) ;;
        ERROR) nerr[$rt]=$((${nerr[$rt]:-0} + 1)) ;;
        WARN) nwarn[$rt]=$((${nwarn[$rt]:-0} + 1)) ;;
        esac
    done
    [ -n "${flaky[$t]:-}" ] && line="$line ${flaky[$t]}"
    echo "$line"
    if [ -n "$runc" ]; then
        read -r _ _ _ rv _ <"$work/out/runc.$t.v"
        read -r _ _ _ bv _ <"$work/out/berth-runtime.$t.v"
        if [ "$rv" = PASS ] && [ "$bv" != PASS ] &&
            [[ "${flaky[$t]:-}" != *timing-dependent* ]]; then
            missing+=("$t")
        fi
    fi
done
echo
n=$(echo $tests | wc -w)
for rt in "${runtimes[@]}"; do
    echo "$rt: PASS ${npass[$rt]:-0} / FAIL ${nfail[$rt]:-0} / ERROR ${nerr[$rt]:-0} / WARN ${nwarn[$rt]:-0} of $n"
done
if [ -n "$runc" ]; then
    if [ ${#missing[@]} = 0 ]; then
        echo "berth-runtime passes every test runc passes."
    else
        echo "runc passes, berth-runtime does not: ${missing[*]}"
        exit 1
    fi
fi
