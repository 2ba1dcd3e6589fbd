#!/usr/bin/env bash
# Run every Molecule scenario (molecule/*/molecule.yml), MOLECULE_JOBS at a
# time. Each scenario is its own `molecule test` process: its containers and
# network are named after it, so scenarios never share state. Each log goes
# to .cache/molecule/<scenario>.log; a failed scenario's log is printed.
#   scripts/molecule-all.sh              every scenario
#   scripts/molecule-all.sh broker ...   only these
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS="${MOLECULE_JOBS:-2}"
LOGS="$ROOT/.cache/molecule"
mkdir -p "$LOGS"

if [ "$#" -gt 0 ]; then
  scenarios=("$@")
else
  # Longest first, so the two lanes finish close together.
  scenarios=()
  for s in default platform_docker process_managers multihost broker new_user balancer log_rotation network_hardening service_user; do
    [ -f "molecule/$s/molecule.yml" ] && scenarios+=("$s")
  done
  for f in molecule/*/molecule.yml; do
    s=$(basename "$(dirname "$f")")
    [[ " ${scenarios[*]} " == *" $s "* ]] || scenarios+=("$s")
  done
fi

run_one() {
  local s=$1 start rc
  start=$(date +%s)
  molecule test -s "$s" >"$LOGS/$s.log" 2>&1
  rc=$?
  echo "$rc $(( $(date +%s) - start ))" >"$LOGS/$s.result"
  printf '[molecule] %-18s %s in %ss\n' "$s" "$([ "$rc" -eq 0 ] && echo passed || echo FAILED)" "$(( $(date +%s) - start ))"
}
export -f run_one
export LOGS

rm -f "$LOGS"/*.result
printf '%s\n' "${scenarios[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

passed=0 failed=0 failures=""
for s in "${scenarios[@]}"; do
  read -r rc _ <"$LOGS/$s.result" 2>/dev/null || rc=1
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "==================== molecule scenario $s failed: log follows ===================="
    sed 's/\x1b\[[0-9;]*m//g' "$LOGS/$s.log" | tail -n 200
    # The failing tests and tasks, repeated last: a CI log's tail names them.
    failures+="$(sed 's/\x1b\[[0-9;]*m//g' "$LOGS/$s.log" | grep -E '(::test_\S* (FAILED|ERROR)|(FAILED|ERROR) tests/|^\W*E   |fatal: \[)' | tail -n 25 | sed "s/^/[$s] /")"$'\n'
  fi
done
[ -n "$failures" ] && printf 'failures:\n%s' "$failures"
echo "molecule: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
