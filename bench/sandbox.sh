#!/usr/bin/env bash
# Wall time of `make plan` and `make apply` on the local sandbox, and the share
# of each spent in Terraform itself. Works on a fresh clone of the committed
# HEAD in a temporary folder, on a free port, and removes everything after.
#
#   bash bench/sandbox.sh            (make bench-sandbox)
#
# Honours REGIONGUARD_TF_MIRROR like the Makefile.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
clone="$work/repo"

cleanup() {
  if [[ -x "$clone/.venv/bin/regionguard" ]]; then
    (cd "$clone" && .venv/bin/regionguard sandbox down >/dev/null 2>&1) || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

git clone -q "$repo" "$clone"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# A terraform shim records how long each terraform command takes.
real_terraform=$(command -v terraform)
mkdir -p "$work/bin"
cat > "$work/bin/terraform" <<SHIM
#!/usr/bin/env bash
start=\$(date +%s.%N)
status=0
"$real_terraform" "\$@" || status=\$?
echo "\$start \$(date +%s.%N)" >> "$work/tf-times"
exit \$status
SHIM
chmod +x "$work/bin/terraform"
export PATH="$work/bin:$PATH"

step() {
  local name=$1
  shift
  : > "$work/tf-times"
  local start end
  start=$(date +%s.%N)
  if ! (cd "$clone" && "$@") > "$work/step.log" 2>&1; then
    echo "$name failed:" >&2
    tail -20 "$work/step.log" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  awk -v name="$name" -v start="$start" -v end="$end" '
    { tf += $2 - $1; n++ }
    END {
      wall = end - start
      printf "%-44s %7.1f s   terraform %6.1f s (%3.0f%%, %d commands)\n", name, wall, tf, 100 * tf / wall, n
    }' "$work/tf-times"
}

echo "make plan / apply on the sandbox (port $port), $(nproc) cores"
step "cold make plan, creating .venv" make plan SANDBOX_PORT="$port"
(cd "$clone" && make sandbox-down SANDBOX_PORT="$port" >/dev/null && rm -rf envs/local/.terraform envs/local/tfplan*)
step "cold make plan, .venv present" make plan SANDBOX_PORT="$port"
step "make apply" make apply SANDBOX_PORT="$port"
step "warm make plan (no changes)" make plan SANDBOX_PORT="$port"
step "make destroy" make destroy SANDBOX_PORT="$port"
